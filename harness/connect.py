"""Attach to a running devnet from its environment file: chain, tokens, role keys, services."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from devnet.core.accounts import ROLE_LAYOUT, derive_account, derive_accounts
from devnet.core.chain import Chain
from devnet.core.env import DevnetEnv
from devnet.core.http import ServiceClient
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet, WalletPool
from devnet.services.bank.client import BankClient
from devnet.services.custodian.client import CustodianClient
from devnet.services.exchange.client import ExchangeClient
from devnet.services.issuer.client import IssuerClient
from harness.node_control import Keep, NodeControl, Reorg

C = TypeVar("C", bound=ServiceClient)

ROLES = {
    "owner": ROLE_LAYOUT.owner,
    "master_minter": ROLE_LAYOUT.master_minter,
    "pauser": ROLE_LAYOUT.pauser,
    "blacklister": ROLE_LAYOUT.blacklister,
    "rescuer": ROLE_LAYOUT.rescuer,
    "reporter": ROLE_LAYOUT.reporter,
}


class ServiceNotRunning(RuntimeError):
    pass


class Devnet:
    def __init__(self, env: DevnetEnv):
        self.env = env
        self.chain = Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
        self.kgst = StableCoinClient(self.chain, env.deployment.token("KGST"))
        self.usdkg = StableCoinClient(self.chain, env.deployment.token("USDKG"))
        self.node = NodeControl(self.chain.rpc, env.node.engine)
        self._clients: dict[str, ServiceClient] = {}
        self._reserve_accounts: dict[str, str] | None = None

    @classmethod
    def attach(cls, path: Path = Path(".devnet/env.json")) -> Devnet:
        return cls(DevnetEnv.load(path))

    def token(self, symbol: str) -> StableCoinClient:
        return {"KGST": self.kgst, "USDKG": self.usdkg}[symbol]

    def role(self, name: str) -> Wallet:
        """A role key of the devnet's own deployment (owner, pauser, blacklister, reporter, ...)."""
        return Wallet.of(derive_account(self.env.mnemonic, ROLES[name]))

    def accounts(self, first: int, count: int) -> WalletPool:
        """`count` funded wallets from the free range, starting `first` accounts into it."""
        start, end = self.env.free_accounts
        if start + first + count > end:
            raise ValueError(
                f"the devnet has {end - start} free accounts; asked for {first}..{first + count}"
            )
        return WalletPool(derive_accounts(self.env.mnemonic, start + first, count))

    def mine(self, blocks: int = 1) -> int:
        """Seal `blocks` blocks now (for confirmations); returns the new head."""
        return self.node.mine(blocks)

    def reorg(self, depth: int, keep: Keep = "none", extra_blocks: int = 0) -> Reorg:
        """Replace the last `depth` blocks by a competing branch (see `NodeControl.reorg`)."""
        return self.node.reorg(depth, keep, extra_blocks)

    def _client(self, name: str, cls: type[C]) -> C:
        if name not in self._clients:
            url = self.env.services.get(name)
            if not url:
                raise ServiceNotRunning(f"this devnet runs no {name} (services: {sorted(self.env.services)})")
            self._clients[name] = cls(url)
        client = self._clients[name]
        assert isinstance(client, cls)
        return client

    @property
    def bank(self) -> BankClient:
        return self._client("bank", BankClient)

    def reserve_account(self, symbol: str) -> str:
        """The bank account that backs `symbol` (fixed for the bank's life: asked once)."""
        if self._reserve_accounts is None:
            self._reserve_accounts = self.bank.reserve_accounts()
        return self._reserve_accounts[symbol]

    @property
    def custodian(self) -> CustodianClient:
        return self._client("custodian", CustodianClient)

    @property
    def issuer(self) -> IssuerClient:
        return self._client("issuer", IssuerClient)

    @property
    def exchange(self) -> ExchangeClient:
        return self._client("exchange", ExchangeClient)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self.chain.close()
