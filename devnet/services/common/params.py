"""Bounded integer inputs. The store keeps integers in 64-bit columns (SQLite's INTEGER,
PostgreSQL's BIGINT), so a larger number in a path, a query or a body is refused up front as a
422 naming the field, and the schema says where the bound is. The bound and `MinorUnits` are
part of the services' published contracts, so they live in `devnet.core.wire`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from devnet.core.wire import MAX_DB_INT, MinorUnits

__all__ = ["MAX_DB_INT", "Limit", "MinorUnits", "RowId"]

#: A row id in a path: 1 .. 2^63 - 1.
RowId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="the record's numeric id")]

#: How many records a list answers at most.
Limit = Annotated[int, Query(ge=1, le=MAX_DB_INT, description="at most this many records, newest first")]
