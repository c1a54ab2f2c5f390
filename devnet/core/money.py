"""Money in integers: amounts are minor units (tyiyn, cents), never floats, and every store keeps
them in 64-bit columns (SQLite's INTEGER, PostgreSQL's BIGINT), so that is their upper bound."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

#: The largest integer a 64-bit signed column holds.
MAX_DB_INT = 2**63 - 1

#: A positive amount in minor units (tyiyn, cents) that fits the store.
MinorUnits = Annotated[
    StrictInt, Field(gt=0, le=MAX_DB_INT, description="minor units (tyiyn, cents); at most 2^63 - 1")
]
