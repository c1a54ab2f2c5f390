"""The service store: SQLAlchemy over SQLite (WAL, one writer at a time) or PostgreSQL.

Two kinds of session: `Database.transaction()` takes the writer lock at BEGIN, so writers run one
at a time; `Database.read()` never takes it, so a read neither waits for a writer nor holds one up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Engine, String, create_engine, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

log = logging.getLogger("devnet.services.db")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


def utcnow() -> datetime:
    return datetime.now(UTC)


@cache
def _datetime_columns(model: type[Base]) -> tuple[str, ...]:
    return tuple(
        attr.key for attr in sa_inspect(model).column_attrs if isinstance(attr.columns[0].type, DateTime)
    )


def _assume_utc(row: Base) -> None:
    """Every timestamp is written in UTC, but SQLite hands it back without its zone: put the zone
    back, so what a service answers is an RFC 3339 `date-time` (with its offset)."""
    values = row.__dict__
    for key in _datetime_columns(type(row)):
        value = values.get(key)
        if isinstance(value, datetime) and value.tzinfo is None:
            set_committed_value(row, key, value.replace(tzinfo=UTC))


@event.listens_for(Base, "load", propagate=True)
def _utc_on_load(row: Base, _context: Any) -> None:
    _assume_utc(row)


@event.listens_for(Base, "refresh", propagate=True)
def _utc_on_refresh(row: Base, _context: Any, _attrs: Any) -> None:
    _assume_utc(row)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Database:
    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            _serialize_sqlite_writers(self.engine)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
            _serialize_postgres_writers(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: the same engine and pool; its connections' BEGIN takes no lock (see `_READ_ONLY`)
        self._reads = sessionmaker(self.engine.execution_options(**{_READ_ONLY: True}))
        self._commit_listeners: list[Callable[[list[Base]], None]] = []

    def create_all(self) -> None:
        """Create the tables and indexes the store lacks. A devnet's state folder outlives
        upgrades, and `create_all` alone skips the indexes of a table that already exists, so an
        index a later version added to an old table is created here. (A column added to an
        existing table would need a migration, which this is not.)"""
        Base.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            for table in Base.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One atomic unit: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A consistent snapshot to read from, without the writer lock: SQLite (WAL) begins a
        deferred transaction, PostgreSQL a repeatable-read read-only one. Writing in it is an
        error; it is rolled back when the block ends. What it loads stays readable after."""
        with self._reads() as session:
            yield session

    def on_commit(self, listener: Callable[[list[Base]], None]) -> None:
        """After each transaction that committed changes, call `listener` with the rows it
        added, changed or deleted: in the committing thread, right after the commit (never for
        a transaction rolled back, nor for a read)."""
        if not self._commit_listeners:
            _publish_commits(self._sessions, self._commit_listeners)
        self._commit_listeners.append(listener)

    def dispose(self) -> None:
        self.engine.dispose()


#: Where a session keeps the rows its flushes wrote until it commits.
_CHANGED = "devnet_changed_rows"


def _publish_commits(sessions: sessionmaker[Session], listeners: list[Callable[[list[Base]], None]]) -> None:
    @event.listens_for(sessions, "after_flush")
    def _collect(session: Session, _context: Any) -> None:
        rows = [*session.new, *session.dirty, *session.deleted]
        session.info.setdefault(_CHANGED, []).extend(row for row in rows if isinstance(row, Base))

    @event.listens_for(sessions, "after_commit")
    def _publish(session: Session) -> None:
        rows: list[Base] = session.info.pop(_CHANGED, [])
        for listener in listeners if rows else ():
            try:
                listener(rows)
            except Exception:  # the commit stands: its caller must not see it as failed
                log.exception("a commit listener failed")

    @event.listens_for(sessions, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_CHANGED, None)


def written(session: Session, *rows: Base) -> None:
    """Rows this session's transaction wrote with plain SQL (SQLAlchemy Core), as unsaved model
    instances: the commit listeners (`Database.on_commit`) hear of them with the ORM's own."""
    session.info.setdefault(_CHANGED, []).extend(rows)


#: The execution option that marks a connection of `Database.read()`: its BEGIN takes no lock.
_READ_ONLY = "devnet_read_only"


def _reads_only(connection: Any) -> bool:
    return bool(connection.get_execution_options().get(_READ_ONLY))


def _serialize_sqlite_writers(engine: Engine) -> None:
    """SQLite allows one writer: take the lock at BEGIN (IMMEDIATE) rather than failing later
    on upgrade, and use WAL so a killed process loses no committed transaction. A read begins
    DEFERRED (in WAL mode it reads the last committed state, whatever a writer is doing) with
    the connection `query_only`, which each BEGIN sets as its kind needs."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below take control
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if _reads_only(connection):
            connection.exec_driver_sql("PRAGMA query_only=ON")
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("PRAGMA query_only=OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")


#: Any constant: every transaction of a service takes the same advisory lock.
_WRITER_LOCK = 0x64657666


def _serialize_postgres_writers(engine: Engine) -> None:
    """The same one-writer-at-a-time semantics as SQLite, so check-then-insert logic (idempotency
    keys, account serials) cannot race: a transaction-scoped advisory lock taken at BEGIN. A read
    takes none: a read-only snapshot (repeatable read) of what was committed when it began."""

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if _reads_only(connection):
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITER_LOCK})")


M = TypeVar("M", bound=Base)


def get_or_404(session: Session, model: type[M], key: Any, field: str, what: str, detail: str = "") -> M:
    """The row with this primary key, or a 404 problem naming the path parameter."""
    row = session.get(model, key)
    if row is None:
        from devnet.services.common.problems import Problem

        raise Problem(404, f"No such {what}", detail, field=field)
    return row


def short_id(prefix: str) -> str:
    import secrets

    return f"{prefix}_{secrets.token_hex(10)}"


__all__ = ["Base", "Database", "String", "Timestamped", "get_or_404", "short_id", "utcnow", "written"]
