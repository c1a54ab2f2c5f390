"""The change feed behind long polls: a waiting request reads again only when its key is notified
(from any thread, after a commit), answers as soon as what it read is done, and otherwise when
its wait ends, with the state then. No timings are asserted: only what was read, and deadlines."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from devnet.services.common.changes import ChangeFeed
from devnet.services.common.cursors import Cursor, set_cursor
from devnet.services.common.db import Database

#: A wait no test lets run out: a test returning before it shows the answer did not wait it out.
LONG_WAIT_S = 30.0


class Record:
    """A record another thread changes; `read` counts how often the feed read it."""

    def __init__(self, status: str = "queued"):
        self.status = status
        self.reads = 0
        self.read_once = threading.Event()

    def read(self) -> str:
        self.reads += 1
        self.read_once.set()
        return self.status


def settled(status: str) -> bool:
    return status == "minted"


def run(feed: ChangeFeed, record: Record, wait: float, key: str = "k") -> tuple[str, float]:
    """Observe `record` on a fresh event loop: its answer, and the seconds it took."""
    started = time.monotonic()
    answer = asyncio.run(feed.observe(key, record.read, settled, wait))
    return answer, time.monotonic() - started


def later(action: Callable[[], None], after: threading.Event) -> threading.Thread:
    """Run `action` in another thread (as the issuer's workers do) once `after` is set."""

    def act() -> None:
        assert after.wait(LONG_WAIT_S)
        time.sleep(0.05)  # let the observer get to its wait (it would not miss the change anyway)
        action()

    thread = threading.Thread(target=act)
    thread.start()
    return thread


def test_a_waiting_request_answers_once_another_thread_notifies_the_change_it_waits_for() -> None:
    feed, record = ChangeFeed(), Record()

    def mint() -> None:
        record.status = "minted"
        feed.notify("k")

    worker = later(mint, record.read_once)
    answer, took = run(feed, record, LONG_WAIT_S)
    worker.join()
    assert answer == "minted" and took < LONG_WAIT_S
    assert record.reads == 2  # once at first, once after the notification


def test_a_change_that_is_not_the_outcome_is_read_and_waited_past() -> None:
    feed, record = ChangeFeed(), Record()

    def progress() -> None:
        for status in ("sent", "included", "minted"):
            record.status = status
            feed.notify("k")
            time.sleep(0.05)

    worker = later(progress, record.read_once)
    answer, took = run(feed, record, LONG_WAIT_S)
    worker.join()
    assert answer == "minted" and took < LONG_WAIT_S


def test_a_wait_that_ends_answers_the_state_then_and_reads_only_at_its_ends() -> None:
    feed, record = ChangeFeed(), Record()
    feed.notify("another key")  # nothing for this request
    answer, _ = run(feed, record, 0.3)
    assert answer == "queued"
    assert record.reads == 2  # no polling: at the start and when the wait ended


def test_no_wait_reads_once() -> None:
    feed, record = ChangeFeed(), Record()
    assert run(feed, record, 0)[0] == "queued"
    assert record.reads == 1


def test_an_outcome_already_there_answers_at_once() -> None:
    feed, record = ChangeFeed(), Record("minted")
    answer, took = run(feed, record, LONG_WAIT_S)
    assert answer == "minted" and took < LONG_WAIT_S and record.reads == 1


def test_a_change_committed_while_the_request_was_reading_is_not_missed() -> None:
    """The request listens before it reads: a notification that comes after its read took its
    snapshot, but before it waits, still wakes it."""
    feed = ChangeFeed()
    record = Record()
    first = True

    def read() -> str:
        nonlocal first
        status = record.read()
        if first:  # the snapshot is taken; the commit lands before the request gets to wait
            first = False
            record.status = "minted"
            feed.notify("k")
        return status

    started = time.monotonic()
    answer = asyncio.run(feed.observe("k", read, settled, LONG_WAIT_S))
    assert answer == "minted" and time.monotonic() - started < LONG_WAIT_S


def test_closing_the_feed_ends_every_wait_with_the_state_then() -> None:
    feed, record = ChangeFeed(), Record()
    worker = later(feed.close, record.read_once)
    answer, took = run(feed, record, LONG_WAIT_S)
    worker.join()
    assert answer == "queued" and took < LONG_WAIT_S
    again = Record()
    assert run(feed, again, LONG_WAIT_S)[0] == "queued" and again.reads == 1  # no more waiting


def test_notifying_with_no_one_waiting_or_a_loop_gone_is_harmless() -> None:
    feed, record = ChangeFeed(), Record()
    feed.notify("k")
    run(feed, record, 0.05)  # its loop is closed now
    feed.notify("k")


# ---- what a commit publishes -------------------------------------------------------------------


def test_each_commit_hands_its_changed_rows_to_the_listener_once_committed(db: Database) -> None:
    published: list[list[Any]] = []
    db.on_commit(published.append)
    with db.transaction() as session:
        set_cursor(session, "a", 1)
        set_cursor(session, "b", 1)
        session.flush()
        assert published == []  # not before the commit
    assert [sorted(row.name for row in rows) for rows in published] == [["a", "b"]]
    with db.transaction() as session:
        set_cursor(session, "a", 2)  # changed: published
    assert [row.name for row in published[-1]] == ["a"] and isinstance(published[-1][0], Cursor)


def test_a_rolled_back_transaction_or_a_read_publishes_nothing(db: Database) -> None:
    published: list[list[Any]] = []
    db.on_commit(published.append)
    with pytest.raises(RuntimeError), db.transaction() as session:
        set_cursor(session, "a", 1)
        session.flush()
        raise RuntimeError("undone")
    with db.read() as session:
        session.get(Cursor, "a")
    with db.transaction() as session:  # nothing changed
        session.get(Cursor, "a")
    assert published == []
