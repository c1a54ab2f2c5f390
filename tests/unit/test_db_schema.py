"""A devnet's state folder outlives upgrades: a service started on an older store gets the tables
and the indexes its version added (an index added to an existing table included)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from devnet.services.common.db import Database
from devnet.services.common.webhooks import SubscriptionBatch
from devnet.services.issuer.models import Mint


def _indexes(db: Database, table: str) -> set[str]:
    return {i["name"] for i in inspect(db.engine).get_indexes(table) if i["name"]}


def test_an_index_added_to_an_existing_table_is_created_on_an_older_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    older = Database(url)
    older.create_all()
    [index] = [i for i in Mint.__table__.indexes if i.columns.keys() == ["bank_payment_id"]]
    assert index.name in _indexes(older, Mint.__tablename__)
    with older.engine.begin() as conn:  # the store as the version before the index left it
        conn.execute(text(f"DROP INDEX {index.name}"))
        conn.execute(text(f"DROP TABLE {SubscriptionBatch.__tablename__}"))
    older.dispose()

    upgraded = Database(url)
    upgraded.create_all()
    try:
        assert index.name in _indexes(upgraded, Mint.__tablename__)
        assert inspect(upgraded.engine).has_table(SubscriptionBatch.__tablename__)
        upgraded.create_all()  # and again, on a store that has them all: nothing to do
    finally:
        upgraded.dispose()
