"""The issuer's books: mints (with the signed transaction kept before it is sent), USDKG mint
requests, redemptions and their payouts, reserve reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from devnet.services.common.db import Base, utcnow


class Mint(Base):
    __tablename__ = "mints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: what caused it, unique: "bank:<payment id>" or "usdkg:<request id>" -- one mint per cause
    source_ref: Mapped[str] = mapped_column(String(80), unique=True)
    token: Mapped[str] = mapped_column(String(10))
    wallet: Mapped[str | None] = mapped_column(String(42), nullable=True)
    #: fiat minor units received (tyiyn, cents) and token base units to mint (as text: > 2^63)
    fiat_amount: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[str] = mapped_column(String(80))
    #: queued -> sent -> included -> minted | failed; held = no valid wallet in the payment, or a
    #: blacklisted one. `included`: in a block that is not final yet (a reorg may still take it
    #: out, and then it goes back to `sent`); `minted` and `failed` only once the block is final.
    status: Mapped[str] = mapped_column(String(12), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    minter: Mapped[str | None] = mapped_column(String(42), nullable=True)
    nonce: Mapped[int | None] = mapped_column(Integer, nullable=True)
    raw_tx: Mapped[str | None] = mapped_column(Text, nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    block_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    block_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    #: indexed: a flow's long poll finds its mint by the bank payment that caused it
    bank_payment_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class MintRequest(Base):
    """A USDKG mint asked for by an institutional (T3) customer, paid in USD."""

    __tablename__ = "usdkg_mint_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_account: Mapped[str] = mapped_column(String(16))
    wallet: Mapped[str] = mapped_column(String(42))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    bank_payment_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Redemption(Base):
    __tablename__ = "redemptions"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(10))
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(Integer)
    block_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    redemption_id: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(42))
    amount: Mapped[str] = mapped_column(String(80))
    payout_ref: Mapped[str] = mapped_column(String(64))
    #: fiat minor units paid; the sub-tyiyn remainder of the token amount stays with the issuer
    payout_amount: Mapped[int] = mapped_column(BigInteger)
    #: pending -> paid | failed. Recorded only from finalized blocks, so `pending` means "final,
    #: payout not made yet". `reorged`: its block left the chain before the payout (possible
    #: only where finality is N confirmations); found again if the transaction is re-included.
    status: Mapped[str] = mapped_column(String(12), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    bank_payment_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReserveReport(Base):
    __tablename__ = "reserve_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(20))
    answer: Mapped[str] = mapped_column(String(80))
    observed_at: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScannedBlock(Base):
    """The finalized blocks the redemption scanner has read, by number and hash: the next block
    must name the last one as its parent, or the chain was reorganised under the scanner."""

    __tablename__ = "scanned_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))
    parent_hash: Mapped[str] = mapped_column(String(66))
