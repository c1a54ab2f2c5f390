"""Named progress markers that survive restarts: the last block scanned, the last bank entry
seen. Stored with the state they describe, in the same transactions."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from devnet.services.common.db import Base


class Cursor(Base):
    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


def get_cursor(session: Session, name: str) -> int | None:
    row = session.get(Cursor, name)
    return None if row is None else int(row.value)


def set_cursor(session: Session, name: str, value: int) -> None:
    row = session.get(Cursor, name)
    if row is None:
        session.add(Cursor(name=name, value=value))
    else:
        row.value = value
