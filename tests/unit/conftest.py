"""Fixtures of the unit tier: nothing here starts a node, a service or a container."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devnet.services.common.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A service database of its own: SQLite in WAL mode in the test's folder, tables created."""
    database = Database(f"sqlite:///{tmp_path / 'store.sqlite'}")
    database.create_all()
    yield database
    database.dispose()
