"""Balances and their journal. Every change goes through `post`, inside the caller's transaction,
so a balance and the entry explaining it are committed together or not at all."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devnet.services.exchange.api import DepositStatus
from devnet.services.exchange.models import Balance, Deposit, LedgerEntry


def balance(session: Session, user_id: str, token: str) -> Balance:
    """The (user, token) balance row, created at zero; locked for update where the store can."""
    row = session.scalars(
        select(Balance).where(Balance.user_id == user_id, Balance.token == token).with_for_update()
    ).first()
    if row is None:
        row = Balance(user_id=user_id, token=token, available=0, locked=0)
        session.add(row)
        session.flush()
    return row


def peek(session: Session, user_id: str) -> dict[str, Balance]:
    """The user's balance rows by token, without creating any (for reads)."""
    return {b.token: b for b in session.scalars(select(Balance).where(Balance.user_id == user_id))}


def post(
    session: Session,
    user_id: str,
    token: str,
    kind: str,
    ref: str,
    *,
    available: int = 0,
    locked: int = 0,
) -> Balance:
    row = balance(session, user_id, token)
    row.available += available
    row.locked += locked
    session.add(
        LedgerEntry(
            user_id=user_id, token=token, kind=kind, ref=ref, available_delta=available, locked_delta=locked
        )
    )
    return row


def pending(session: Session, user_id: str) -> dict[str, int]:
    """Deposits seen on chain but below minConfirm, per token."""
    out: dict[str, int] = {}
    for token, amount in session.execute(
        select(Deposit.token, Deposit.amount).where(
            Deposit.user_id == user_id, Deposit.status == DepositStatus.PENDING
        )
    ):
        out[token] = out.get(token, 0) + int(amount)
    return out


def entry_count(session: Session, ref: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.ref == ref)) or 0
    )
