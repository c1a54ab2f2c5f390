"""The vault's records: bars (an LBMA weight list), signed attestations, the XAU/USD price state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from devnet.services.common.db import Base, utcnow


class Bar(Base):
    """One Good Delivery bar. Weights in thousandths of a troy ounce, assay in tenths of a part
    per thousand (9999 = 999.9)."""

    __tablename__ = "bars"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    brand: Mapped[str] = mapped_column(String(80))
    year: Mapped[int] = mapped_column(Integer)
    gross_oz_milli: Mapped[int] = mapped_column(BigInteger)
    assay_tenths: Mapped[int] = mapped_column(Integer)
    fine_oz_milli: Mapped[int] = mapped_column(BigInteger)
    #: an `api.BarStatus`: "vaulted" (unallocated), "allocated" (to `pool`) or "released" (left the vault)
    status: Mapped[str] = mapped_column(String(16), index=True)
    pool: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    deposited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Attestation(Base):
    """A signed statement of the fine gold allocated to a pool at `as_of`."""

    __tablename__ = "attestations"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    pool: Mapped[str] = mapped_column(String(16), index=True)
    total_fine_oz_milli: Mapped[int] = mapped_column(BigInteger)
    bar_count: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(String(1000))
    signature: Mapped[str] = mapped_column(String(140))
    signer: Mapped[str] = mapped_column(String(42))
    #: "request", "allocation" (the allocated set changed), "schedule" or "genesis"
    reason: Mapped[str] = mapped_column(String(16))


class PriceState(Base):
    """The one XAU/USD price row: the path it follows and where on it it is."""

    __tablename__ = "price_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the price path (a `PricePath` as JSON)
    config: Mapped[dict[str, Any]]
    #: the path given in settings at the last start; a different one at start replaces `config`
    settings_config: Mapped[dict[str, Any]]
    tick: Mapped[int] = mapped_column(BigInteger, default=0)
    price_e8: Mapped[int] = mapped_column(BigInteger)
    #: unix seconds of the last tick (or of the path being set)
    as_of: Mapped[int] = mapped_column(BigInteger)
    #: unix seconds the path was set, for shock steps timed in seconds
    started_at: Mapped[int] = mapped_column(BigInteger)
