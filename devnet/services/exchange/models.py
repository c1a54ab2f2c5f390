"""The exchange's store: users, deposit addresses, balances and their journal, deposits seen on
chain, the blocks the watcher processed, withdrawals, internal transfers, sweeps, the
transactions the exchange signed, listing reviews and the networks' config and status.

Token amounts exceed SQLite's 64-bit integers (1,000 KGST = 1e21 base units), so they are
stored as decimal strings (`BigAmount`) and are Python ints everywhere else.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from devnet.services.common.db import Base, utcnow


class BigAmount(TypeDecorator[int]):
    """An arbitrary-precision integer kept as its decimal string."""

    impl = String(80)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        return None if value is None else str(int(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class User(Base):
    __tablename__ = "exchange_users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DepositAddress(Base):
    """One address per user per token, derived from the exchange mnemonic at `hd_index`."""

    __tablename__ = "exchange_deposit_addresses"
    __table_args__ = (UniqueConstraint("user_id", "token"),)

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    hd_index: Mapped[int] = mapped_column(Integer, unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("exchange_users.id"), index=True)
    token: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Balance(Base):
    __tablename__ = "exchange_balances"

    user_id: Mapped[str] = mapped_column(ForeignKey("exchange_users.id"), primary_key=True)
    token: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: Withdrawable.
    available: Mapped[int] = mapped_column(BigAmount, default=0)
    #: Credited deposits waiting for unLockConfirm.
    locked: Mapped[int] = mapped_column(BigAmount, default=0)


class LedgerEntry(Base):
    """Every change of a balance, with what caused it (deposit, withdrawal, transfer, reversal)."""

    __tablename__ = "exchange_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(40), index=True)
    token: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(80), index=True)
    available_delta: Mapped[int] = mapped_column(BigAmount, default=0)
    locked_delta: Mapped[int] = mapped_column(BigAmount, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Deposit(Base):
    """A Transfer log to a deposit address, identified by (chain id, tx hash, log index).

    status (`api.DepositStatus`): pending (< minConfirm) -> credited (locked) -> unlocked
    (available); or dust (below depositDust, never credited); or reversed (its block was
    reorganised away). A reversed deposit whose transaction is mined again comes back to life
    (same row, new block).
    """

    __tablename__ = "exchange_deposits"
    __table_args__ = (UniqueConstraint("chain_id", "tx_hash", "log_index"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[str] = mapped_column(String(66))
    token: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(42), index=True)
    user_id: Mapped[str] = mapped_column(String(40), index=True)
    from_address: Mapped[str] = mapped_column(String(42))
    #: The Transfer log's value.
    value: Mapped[int] = mapped_column(BigAmount)
    #: What is credited: the value, or less when the address's balance grew by less (fee-on-transfer).
    amount: Mapped[int] = mapped_column(BigAmount)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    credited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    unlocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: How many times its block was reorganised away.
    reversals: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedBlock(Base):
    """A block the watcher has scanned, with its hash, to notice reorgs."""

    __tablename__ = "exchange_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(66))
    parent_hash: Mapped[str] = mapped_column(String(66))


class Network(Base):
    """A listed token: its config (GET /networks) and the status the watcher last read on chain."""

    __tablename__ = "exchange_networks"

    symbol: Mapped[str] = mapped_column(String(20), primary_key=True)
    contract_address: Mapped[str] = mapped_column(String(42))
    decimals: Mapped[int | None] = mapped_column(Integer, nullable=True)
    config: Mapped[dict[str, Any]]
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    hot_wallet_blacklisted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why the last on-chain status read failed, if it did.
    state_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    state_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    state_block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ChainTxStatus(StrEnum):
    """signed (stored, maybe not broadcast) -> sent -> included (in a block not final yet; a
    reorg sends it back to `sent`) -> mined | reverted (final); dropped: a final block gave its
    nonce to another transaction, so it can never be mined. Not answered by the API: the
    exchange's own bookkeeping."""

    SIGNED = "signed"
    SENT = "sent"
    INCLUDED = "included"
    MINED = "mined"
    REVERTED = "reverted"
    DROPPED = "dropped"


class ChainTx(Base):
    """A transaction the exchange signed, stored before it is broadcast, so a restart re-sends
    the same bytes (same nonce) instead of signing a second transfer."""

    __tablename__ = "exchange_chain_txs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: withdrawal, sweep_gas, sweep_token, hot_wallet_gas
    purpose: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(40), index=True)
    sender: Mapped[str] = mapped_column(String(42), index=True)
    to: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    value_wei: Mapped[int] = mapped_column(BigAmount, default=0)
    gas: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(66), unique=True)
    #: a `ChainTxStatus`
    status: Mapped[str] = mapped_column(String(16), index=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    block_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Withdrawal(Base):
    """status (`api.WithdrawalStatus`): processing -> completed (its transaction in a final block)
    | failed (reason; the balance is restored)."""

    __tablename__ = "exchange_withdrawals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40), index=True)
    token: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(42))
    #: Debited from the user.
    amount: Mapped[int] = mapped_column(BigAmount)
    fee: Mapped[int] = mapped_column(BigAmount)
    status: Mapped[str] = mapped_column(String(16), index=True)
    chain_tx_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_chain_txs.id"), nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class InternalTransfer(Base):
    __tablename__ = "exchange_internal_transfers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    from_user_id: Mapped[str] = mapped_column(String(40), index=True)
    to_user_id: Mapped[str] = mapped_column(String(40), index=True)
    token: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigAmount)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Sweep(Base):
    """Moving one deposit address's tokens to the hot wallet.

    status (`api.SweepStatus`): queued -> gas_pending (BNB top-up sent) -> gas_funded ->
    transfer_pending -> completed; or failed.
    """

    __tablename__ = "exchange_sweeps"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(42), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    #: Token balance moved (read when the transfer is signed).
    amount: Mapped[int | None] = mapped_column(BigAmount, nullable=True)
    #: What the hot wallet received (less than amount for a fee-on-transfer token).
    received: Mapped[int | None] = mapped_column(BigAmount, nullable=True)
    gas_topup_wei: Mapped[int | None] = mapped_column(BigAmount, nullable=True)
    gas_tx_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_chain_txs.id"), nullable=True)
    token_tx_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_chain_txs.id"), nullable=True)
    gas_tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ListingReview(Base):
    __tablename__ = "exchange_listing_reviews"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_address: Mapped[str] = mapped_column(String(42))
    passed: Mapped[bool] = mapped_column(Boolean)
    block_number: Mapped[int] = mapped_column(BigInteger)
    checks: Mapped[list[Any]]
    capabilities: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
