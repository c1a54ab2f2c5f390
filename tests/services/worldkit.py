"""Helpers for service tests: a devnet with real services in a temporary folder."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from devnet.core.accounts import derive_account
from devnet.core.chain import Chain
from devnet.core.env import DevnetEnv
from devnet.core.tokens import StableCoinClient
from devnet.core.wait import wait_until as core_wait_until
from devnet.core.wallets import Wallet
from devnet.node.process import pid_alive
from devnet.profile import BscProfile, Engine
from devnet.services.bank.client import BankClient
from devnet.services.launch import ServiceHandle, start_service
from devnet.world import down, up

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy (no timing assertions: just a deadline);
    any error (e.g. a 404 before the thing exists) is "not yet"."""
    return core_wait_until(probe, timeout, what, interval=0.05, transient=(Exception,))


@dataclass
class World:
    root: Path
    env: DevnetEnv
    chain: Chain
    services: dict[str, ServiceHandle] = field(default_factory=dict)
    #: what each service was started with, so a restart is the same service again
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    _next_wallet: int = 100

    @classmethod
    def start(cls, root: Path, engine: Engine, profile: BscProfile | None = None) -> World:
        """A chain with the contracts on `engine` (a module's `world_engine`), no services yet."""
        env = up(root / "devnet", engine=engine, profile=profile)
        return cls(
            root=root, env=env, chain=Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
        )

    def start_service(self, name: str, **settings: Any) -> ServiceHandle:
        try:
            handle = start_service(name, self.root / "services", settings=settings)
        except BaseException:
            self.stop()  # a fixture whose setup fails gets no teardown: leave nothing running
            raise
        self.services[name] = handle
        self.settings[name] = settings
        return handle

    def start_issuer(self, **settings: Any) -> ServiceHandle:
        """The reference issuer on this world's chain, with the bank and custodian started here."""
        wired: dict[str, Any] = {"env_file": str(self.root / "devnet" / "env.json")}
        for peer in ("bank", "custodian"):
            if peer in self.services:
                wired[f"{peer}_url"] = self.services[peer].url
        return self.start_service("issuer", **wired, **settings)

    def restart(self, name: str, kill: bool = True) -> ServiceHandle:
        """Stop (SIGKILL with `kill`; a process already dead is fine) and start the same service,
        with the same settings, on the same port."""
        old = self.services[name]
        if pid_alive(old.process.pid):
            (old.kill if kill else old.stop)()
        port = int(old.url.rsplit(":", 1)[1])
        handle = start_service(name, self.root / "services", port=port, settings=self.settings[name])
        self.services[name] = handle
        return handle

    def token(self, symbol: str) -> StableCoinClient:
        return StableCoinClient(self.chain, self.env.deployment.token(symbol))

    def wallet(self) -> Wallet:
        self._next_wallet += 1
        return Wallet.of(derive_account(self.env.mnemonic, self._next_wallet))

    def stop(self) -> None:
        for handle in self.services.values():
            handle.stop()
        self.chain.close()
        down(self.root / "devnet")


def customer_account(
    bank: BankClient, tier: str = "T2", currency: str = "KGS", funds: int = 0, name: str | None = None
) -> str:
    customer = bank.create_customer(name or f"Customer {uuid.uuid4().hex[:6]}", tier)
    number = bank.open_account(customer.id, currency).number
    if funds:
        bank.deposit(number, funds, currency)
    return number
