"""What the exchange's routes and workers share: settings, store, chain client, its keys, the
listed networks with their on-chain status, and its records as the API answers them."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import BaseModel
from sqlalchemy import select

from devnet.core.accounts import derive_account
from devnet.core.chain import Chain
from devnet.core.rpc import RpcError
from devnet.services.common.app import ServiceContext
from devnet.services.common.cursors import get_cursor, set_cursor
from devnet.services.common.db import utcnow
from devnet.services.common.webhooks import emit
from devnet.services.exchange.api import (
    ConfiguredSwitches,
    DepositOut,
    DepositStatus,
    ExchangeEvent,
    NetworkOut,
    TransferOut,
    TransferStatus,
    WithdrawalOut,
    WithdrawalStatus,
)
from devnet.services.exchange.erc20 import calldata
from devnet.services.exchange.erc20 import read as erc20_read
from devnet.services.exchange.models import Deposit, InternalTransfer, Network, Withdrawal
from devnet.services.exchange.settings import ExchangeSettings, NetworkConfig

log = logging.getLogger("devnet.exchange")
HOT_WALLET_INDEX = 0


@dataclass(frozen=True)
class TokenState:
    paused: bool
    hot_wallet_blacklisted: bool
    error: str | None


class ExchangeCore:
    def __init__(self, ctx: ServiceContext, settings: ExchangeSettings):
        self.ctx = ctx
        self.settings = settings
        self.db = ctx.db
        self.chain = Chain(settings.rpc_url, gas_price=settings.gas_price_wei, chain_id=settings.chain_id)
        self.rpc = self.chain.rpc
        self.chain_id = self.chain.chain_id
        self.hot: LocalAccount = derive_account(settings.mnemonic, HOT_WALLET_INDEX)
        self.funder: LocalAccount | None = None
        if settings.gas_funder_key:
            self.funder = Account.from_key(settings.gas_funder_key)
        elif settings.gas_funder_index is not None:
            self.funder = derive_account(
                settings.gas_funder_mnemonic or settings.mnemonic, settings.gas_funder_index
            )
        #: workers poke each other (a new withdrawal wakes the treasury)
        self.wake_treasury: Any = lambda: None

    # ---- keys ------------------------------------------------------------------------------

    def deposit_account(self, index: int) -> LocalAccount:
        if index == HOT_WALLET_INDEX:
            raise ValueError("index 0 is the hot wallet")
        return derive_account(self.settings.mnemonic, index)

    def gas_payer(self) -> LocalAccount:
        return self.funder or self.hot

    def crash(self, point: str) -> None:
        """Fault injection: die here, without cleanup, as SIGKILL would."""
        if self.settings.crash_point == point:
            log.warning("crash point %s reached: exiting hard", point)
            os._exit(137)

    # ---- networks --------------------------------------------------------------------------

    def seed_networks(self) -> None:
        with self.db.transaction() as session:
            for symbol, address in self.settings.tokens.items():
                config = self.settings.default_network(symbol)
                problems = config.problems()
                if problems:
                    raise ValueError(
                        f"network config of {symbol}: " + "; ".join(f"{f} {why}" for f, why in problems)
                    )
                row = session.get(Network, symbol)
                if row is None:
                    session.add(
                        Network(
                            symbol=symbol,
                            contract_address=to_checksum_address(address),
                            config=config.stored(),
                        )
                    )
                elif row.contract_address.lower() != address.lower():
                    log.warning("%s contract address changed %s -> %s", symbol, row.contract_address, address)
                    row.contract_address = to_checksum_address(address)

    def token_addresses(self) -> dict[str, str]:
        """symbol -> contract address of every listed token."""
        with self.db.read() as session:
            return {n.symbol: n.contract_address for n in session.scalars(select(Network))}

    def read_token_state(self, address: str) -> TokenState:
        """paused() and isBlacklisted(hot wallet) now; a missing function counts as false."""
        calls = [
            ("eth_call", [{"to": address, "data": calldata("paused()")}, "latest"]),
            (
                "eth_call",
                [{"to": address, "data": calldata("isBlacklisted(address)", self.hot.address)}, "latest"],
            ),
        ]
        results = self.rpc.batch(calls)
        flags: list[bool] = []
        for result in results:
            if isinstance(result, RpcError):  # reverts: the token has no such function
                flags.append(False)
                continue
            raw = bytes.fromhex(str(result).removeprefix("0x"))
            flags.append(bool(abi_decode(["bool"], raw)[0]) if len(raw) >= 32 else False)
        return TokenState(paused=flags[0], hot_wallet_blacklisted=flags[1], error=None)

    def head_hash(self) -> str:
        """The hash of the node's head block (what the workers' change gates compare)."""
        return str(self.rpc.call("eth_getBlockByNumber", "latest", False)["hash"])

    def refresh_network_state(self, only: str | None = None) -> None:
        """Read each token's pause and the hot wallet's blacklisting; store them, and emit
        network.status_changed when either changed. RPC failures are stored, not raised."""
        tokens = {s: a for s, a in self.token_addresses().items() if only is None or s == only}
        if not tokens:
            return
        states: dict[str, TokenState] = {}
        try:
            block = self.chain.block_number()
            for symbol, address in tokens.items():
                states[symbol] = self.read_token_state(address)
        except Exception as e:  # the node is down: keep the last known state, note why
            block = None
            for symbol in tokens:
                states[symbol] = TokenState(False, False, f"{type(e).__name__}: {e}")
        with self.db.transaction() as session:
            for symbol, state in states.items():
                net = session.get(Network, symbol)
                if net is None:
                    continue
                if state.error:
                    net.state_error = state.error
                    continue
                if net.decimals is None:
                    with contextlib.suppress(Exception):
                        net.decimals = int(erc20_read(self.rpc, net.contract_address, "decimals()", "uint8"))
                before = (net.paused, net.hot_wallet_blacklisted)
                net.paused = state.paused
                net.hot_wallet_blacklisted = state.hot_wallet_blacklisted
                net.state_error = None
                net.state_checked_at = utcnow()
                net.state_block = block
                if before != (state.paused, state.hot_wallet_blacklisted):
                    out = self.network_out(net)
                    log.info("%s status: %s", symbol, out.status)
                    emit(session, ExchangeEvent.NETWORK_STATUS_CHANGED, as_json(out))
        self.ctx.dispatcher.poke()

    def network_out(self, net: Network) -> NetworkOut:
        """One entry of GET /networks: Binance's capital config fields with depositEnable and
        withdrawEnable as they are in effect, and why (`status`)."""
        config = NetworkConfig.model_validate(net.config)
        return NetworkOut(
            coin=net.symbol,
            network=self.settings.network_name,
            chain_id=self.chain_id,
            contract_address=net.contract_address,
            decimals=net.decimals,
            deposit_enable=config.deposit_enable and not net.paused,
            withdraw_enable=config.withdraw_enable and not net.paused and not net.hot_wallet_blacklisted,
            withdraw_fee=config.withdraw_fee,
            withdraw_min=config.withdraw_min,
            withdraw_max=config.withdraw_max,
            withdraw_integer_multiple=config.withdraw_integer_multiple,
            deposit_dust=config.deposit_dust,
            min_confirm=config.min_confirm,
            unlock_confirm=config.unlock_confirm,
            address_regex=config.address_regex,
            status=network_status(net, config),
            configured=ConfiguredSwitches(
                deposit_enable=config.deposit_enable, withdraw_enable=config.withdraw_enable
            ),
            paused=net.paused,
            hot_wallet_blacklisted=net.hot_wallet_blacklisted,
            state_block=net.state_block,
            state_checked_at=net.state_checked_at,
            state_error=net.state_error,
        )

    # ---- cursors ---------------------------------------------------------------------------

    # Kept as methods: the watcher and treasury reach them through the core.
    cursor = staticmethod(get_cursor)
    set_cursor = staticmethod(set_cursor)


def network_status(net: Network, config: NetworkConfig) -> str:
    reasons = withdraw_block_reasons(net, config)
    if not config.deposit_enable:
        reasons.append("deposits disabled by admin")
    return "; ".join(reasons) or "normal"


def withdraw_block_reasons(net: Network, config: NetworkConfig) -> list[str]:
    reasons = []
    if net.paused:
        reasons.append("token paused")
    if net.hot_wallet_blacklisted:
        reasons.append("hot wallet blacklisted")
    if not config.withdraw_enable:
        reasons.append("withdrawals disabled by admin")
    return reasons


# ---- answers ------------------------------------------------------------------------------------


def as_json(answer: BaseModel) -> dict[str, Any]:
    """An answer as JSON, its members named as on the wire: for webhook events and the
    idempotency store (which replays it)."""
    return answer.model_dump(mode="json", by_alias=True)


def deposit_out(d: Deposit, tip: int | None) -> DepositOut:
    """A deposit as answered; its confirmations counted up to `tip`, the last block processed."""
    confirmations = (
        0 if tip is None or d.status == DepositStatus.REVERSED else max(0, tip - d.block_number + 1)
    )
    return DepositOut(
        id=d.id,
        user_id=d.user_id,
        token=d.token,
        address=d.address,
        from_=d.from_address,
        chain_id=d.chain_id,
        tx_hash=d.tx_hash,
        log_index=d.log_index,
        block_number=d.block_number,
        block_hash=d.block_hash,
        value=d.value,
        amount=d.amount,
        status=DepositStatus(d.status),
        confirmations=confirmations,
        reversals=d.reversals,
        created_at=d.created_at,
        credited_at=d.credited_at,
        unlocked_at=d.unlocked_at,
        reversed_at=d.reversed_at,
    )


def withdrawal_out(w: Withdrawal) -> WithdrawalOut:
    return WithdrawalOut(
        id=w.id,
        user_id=w.user_id,
        token=w.token,
        address=w.address,
        amount=w.amount,
        fee=w.fee,
        net_amount=w.amount - w.fee,
        status=WithdrawalStatus(w.status),
        tx_hash=w.tx_hash,
        block_number=w.block_number,
        failure_reason=w.failure_reason,
        created_at=w.created_at,
        finished_at=w.finished_at,
    )


def transfer_out(t: InternalTransfer) -> TransferOut:
    return TransferOut(
        id=t.id,
        from_user_id=t.from_user_id,
        to_user_id=t.to_user_id,
        token=t.token,
        amount=t.amount,
        status=TransferStatus.COMPLETED,
        created_at=t.created_at,
    )
