"""The bank customers of the load's lanes: opened before a run, not by the users as they start.

A migrant worker and the family at home have bank accounts before they remit; onboarding is not
part of the mint -> remittance -> redeem flow a run measures, and opening them while the
flows run cost the bank half of its writes in a sweep's short steps (users start through most
of a 30 s step, and each did four writes before its first flow). So the runner opens them before
Locust starts (outside the run's costs), keeps them with the devnet (`<state>/load-lanes.json`)
for the runs after, and the users read them. A user whose lane is not listed opens its own, as
before. Each opening carries an idempotency key of its lane, so a preparation cut short and
run again opens nothing twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

from pydantic import BaseModel, TypeAdapter

from devnet.core.http import ApiError
from devnet.services.bank.api import Currency, KycTier
from devnet.services.bank.client import BankClient

#: Where a devnet keeps its lanes' customers: its state folder.
LANES_FILE = "load-lanes.json"
#: The environment variable that tells the Locust processes where the file is.
LANES_ENV = "LOAD_LANES_FILE"


class LaneCustomers(BaseModel):
    """A lane's two bank accounts (KGS): the migrant's, paid in and debited for KGST, and the
    family's, which redemptions pay."""

    migrant_account: str
    family_account: str


_BOOK = TypeAdapter(dict[int, LaneCustomers])


def open_lane(bank: BankClient, lane: int) -> LaneCustomers:
    """Open the lane's customers and accounts (replayed, not repeated, if already opened)."""
    key = f"load-lane-{lane}"
    migrant = bank.create_customer(f"Migrant {lane}", KycTier.T2, country="KG", key=f"{key}-migrant")
    family = bank.create_customer(f"Family {lane}", KycTier.T1, country="KG", key=f"{key}-family")
    return LaneCustomers(
        migrant_account=bank.open_account(migrant.id, Currency.KGS, key=f"{key}-migrant-account").number,
        family_account=bank.open_account(family.id, Currency.KGS, key=f"{key}-family-account").number,
    )


def read_book(path: Path) -> dict[int, LaneCustomers]:
    try:
        return _BOOK.validate_json(path.read_bytes())
    except (OSError, ValueError):
        return {}


def flow_lanes(lanes: int, users: int, processes: int, users_per_process: int) -> list[int]:
    """The lanes flow users take (`common.lane`, counted from the end): user n of worker w takes
    index w x users_per_process + n; Locust spreads the users evenly over its workers."""
    if processes <= 1:
        indices: Iterable[int] = range(users)
    else:
        per_worker = min(-(-users // processes), users_per_process)
        indices = (w * users_per_process + n for w in range(processes) for n in range(per_worker))
    return [lanes - 1 - i for i in indices if i < lanes]


def prepare_lanes(
    state_dir: Path, bank: BankClient, lanes: Iterable[int], progress: Callable[[str], None] = lambda _m: None
) -> Path:
    """Make sure `lanes` have their customers, in the devnet's book; returns the book's path.
    A book from another devnet in this folder (its accounts unknown to this bank) is dropped."""
    path = state_dir / LANES_FILE
    book = read_book(path)
    if book:
        try:
            bank.account(next(iter(book.values())).migrant_account)
        except ApiError as e:
            if e.status != 404:
                raise
            book = {}  # the bank is a new one
    missing = sorted(set(lanes) - set(book))
    if missing:
        progress(f"opening the bank accounts of {len(missing)} lanes' customers (before the run) ...")
        for lane in missing:
            book[lane] = open_lane(bank, lane)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(_BOOK.dump_json(book))
        tmp.replace(path)
    return path


@cache
def lane_book() -> dict[int, LaneCustomers]:
    """In a Locust process: the book the runner prepared (empty without one)."""
    where = os.environ.get(LANES_ENV)
    return read_book(Path(where)) if where else {}


__all__ = ["LANES_ENV", "LANES_FILE", "LaneCustomers", "lane_book", "open_lane", "prepare_lanes", "read_book"]
