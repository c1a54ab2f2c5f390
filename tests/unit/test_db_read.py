"""The store's two kinds of session: a transaction takes the writer lock at BEGIN (one writer at a
time); a read does not, so a read never waits for a writer (SQLite in WAL mode, a file in tmp_path)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import OperationalError

from devnet.services.common.cursors import get_cursor, set_cursor
from devnet.services.common.db import Database

#: A deadline for the background thread's steps on a busy machine, not a time the tests assert.
DEADLINE_S = 20


def read_cursor(db: Database, name: str) -> int | None:
    with db.read() as session:
        return get_cursor(session, name)


def test_a_read_answers_while_another_connection_holds_the_writer_lock(db: Database) -> None:
    assert_a_read_answers_while_a_writer_holds_the_lock(db)


def assert_a_read_answers_while_a_writer_holds_the_lock(db: Database) -> None:
    """(tests/services/test_postgres.py runs this on PostgreSQL.)"""
    with db.transaction() as session:
        set_cursor(session, "block", 7)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.transaction() as session:
            session.connection()  # BEGIN IMMEDIATE: the writer lock is held from here on
            set_cursor(session, "block", 8)
            session.flush()
            holding.set()
            release.wait(DEADLINE_S)

    with ThreadPoolExecutor(2) as pool:
        writing = pool.submit(writer)
        try:
            assert holding.wait(DEADLINE_S), "the writer never took the lock"
            # Another thread, another connection: were the read to wait for the lock, it would
            # wait until the writer lets go, which it does only after this answer.
            reading = pool.submit(read_cursor, db, "block")
            assert reading.result(timeout=DEADLINE_S) == 7  # the last committed state
            assert not writing.done()  # the lock was held all along
        finally:
            release.set()
        writing.result(timeout=DEADLINE_S)
    assert read_cursor(db, "block") == 8


def test_a_write_in_a_read_is_refused_and_leaves_the_store_as_it_was(db: Database) -> None:
    with pytest.raises(OperationalError, match="readonly"), db.read() as session:
        set_cursor(session, "block", 1)
        session.flush()
    assert read_cursor(db, "block") is None
    with db.transaction() as session:  # the connection the read used writes again as a transaction
        set_cursor(session, "block", 2)
    assert read_cursor(db, "block") == 2
