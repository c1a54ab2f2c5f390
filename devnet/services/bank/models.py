"""The bank's ledger: customers, accounts (balances in minor units), payments, entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from devnet.services.common.db import Base, utcnow


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(140))
    kyc_tier: Mapped[str] = mapped_column(String(2))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Account(Base):
    __tablename__ = "accounts"

    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    #: an `api.AccountKind`: "customer", or "reserve" for an issuer's segregated reserve account
    kind: Mapped[str] = mapped_column(String(16), default="customer")
    #: the token a reserve account backs
    label: Mapped[str | None] = mapped_column(String(40), nullable=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), index=True)
    debtor_account: Mapped[str | None] = mapped_column(String(16), nullable=True)
    debtor_name: Mapped[str | None] = mapped_column(String(140), nullable=True)
    creditor_account: Mapped[str] = mapped_column(String(16))
    creditor_name: Mapped[str | None] = mapped_column(String(140), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    remittance_info: Mapped[str] = mapped_column(String(140), default="")
    #: structured remittance information (RmtInf/Strd/CdtrRefInf/Ref), e.g. a wallet to mint to
    creditor_reference: Mapped[str | None] = mapped_column(String(140), nullable=True)
    #: an `api.PaymentKind`
    kind: Mapped[str] = mapped_column(String(16))
    #: an `api.PaymentStatus`
    status: Mapped[str] = mapped_column(String(16), default="settled")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Entry(Base):
    """One booking on one account (camt.053 / camt.054 entry)."""

    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_number: Mapped[str] = mapped_column(ForeignKey("accounts.number"), index=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    #: an `api.CreditDebit`: "CRDT" or "DBIT", as in ISO 20022
    credit_debit: Mapped[str] = mapped_column(String(4))
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    booked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
