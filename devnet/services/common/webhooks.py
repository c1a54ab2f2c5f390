"""Signed webhooks: an outbox written with the state change, a dispatcher that retries with
backoff until the receiver acknowledges, and the receiver's checks (signature, age, dedup).

The protocol itself (headers, signature, event shape) is `devnet.core.webhooks`.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast

import httpx
from pydantic import ValidationError
from sqlalchemy import DateTime, Integer, String, Table, Text, bindparam, delete, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from devnet.core.http import http_client
from devnet.core.webhooks import (
    BATCH_MAX,
    ID_HEADER,
    SIGNATURE_HEADER,
    TOLERANCE_S,
    SignatureRefused,
    WebhookBatch,
    WebhookEvent,
    check_signature,
    sign,
)
from devnet.core.worker import PeriodicWorker
from devnet.services.common.db import Base, Database, short_id, utcnow, written
from devnet.services.common.problems import Problem, invalid_request, problem_responses

log = logging.getLogger("devnet.webhooks")


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Delivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), index=True)
    url: Mapped[str] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


OUTBOX, DELIVERIES = cast(Table, OutboxEvent.__table__), cast(Table, Delivery.__table__)
# Built once (SQLAlchemy computes a cache key for each statement built): every emit runs them.
_INSERT_EVENT, _INSERT_DELIVERIES = insert(OUTBOX), insert(DELIVERIES)


class Subscription(Base):
    __tablename__ = "webhook_subscriptions"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)


class SubscriptionSubject(Base):
    """A subscription that lists subjects receives only events about them (the bank: an account
    number, as a bank notifies a customer about its own accounts); one without gets every event."""

    __tablename__ = "webhook_subscription_subjects"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)


class SubscriptionEventType(Base):
    """A subscription that lists event types receives only events of those types (the bank: a
    customer that wants credit notifications only, as a bank's camt.054 settings offer); one
    without gets every type."""

    __tablename__ = "webhook_subscription_event_types"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    type: Mapped[str] = mapped_column(String(80), primary_key=True)


class SubscriptionBatch(Base):
    """A subscription that takes its events in batches: one POST carrying every due event
    (`devnet.core.webhooks.WebhookBatch`), as a camt.054 notification carries many entries."""

    __tablename__ = "webhook_subscription_batches"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)


class InboxEvent(Base):
    """Events this service has received and processed, for de-duplication."""

    __tablename__ = "inbox_events"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    sender: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


#: OpenAPI for an endpoint that receives webhooks: the event body, the signature header, the
#: 401 for a missing, stale or wrong signature and the 422 for a signed body that is no event.
RECEIVER_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>',
            "schema": {"type": "string"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": WebhookEvent.model_json_schema()}},
    },
}
RECEIVER_RESPONSES = problem_responses(401, 422)
#: OpenAPI for a receiver that also takes batched deliveries (`read_delivery`).
BATCH_RECEIVER_OPENAPI: dict[str, Any] = {
    **RECEIVER_OPENAPI,
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [WebhookEvent.model_json_schema(), WebhookBatch.model_json_schema()],
                    "description": "one event, or a batch of them (a subscription made with `batch`)",
                }
            }
        },
    },
}


def read_delivery(secret: str, header: str | None, body: bytes) -> WebhookEvent | WebhookBatch:
    """A delivery of one event or of a batch (a body with `events`): 401 unless its signature
    verifies, then 422 (naming the field) unless it is one or the other."""
    verify(secret, header, body)
    try:
        message = json.loads(body)
    except ValueError:
        message = None
    try:
        if isinstance(message, dict):  # parsed once, validated as what it holds
            return (WebhookBatch if "events" in message else WebhookEvent).model_validate(message)
        return WebhookEvent.model_validate_json(body)  # not a JSON object: pydantic says why
    except ValidationError as e:
        raise invalid_request(e.errors(), prefix=("body",)) from e


@dataclass(frozen=True)
class Subscriber:
    """Where events go, and which: None for every subject (or type), else only those listed."""

    url: str
    subjects: frozenset[str] | None
    types: frozenset[str] | None

    def wants(self, type_: str, subject: str | None) -> bool:
        return (self.subjects is None or subject in self.subjects) and (
            self.types is None or type_ in self.types
        )


#: Per database (its engine): its subscribers. Read from the store at the first event, and again
#: after each `subscribe`, which is how subscriptions change (each service is one process over
#: its own store): before, every event read the tables, a quarter of the bank's work per transfer.
_subscribers: weakref.WeakKeyDictionary[Any, list[Subscriber]] = weakref.WeakKeyDictionary()
_subscribers_lock = threading.Lock()


def _subscribers_of(session: Session) -> list[Subscriber]:
    """The subscribers, cached per engine. Only for a write transaction's session (`emit`): a
    read snapshot may predate the last `subscribe`, and its engine is another object."""
    engine = session.get_bind()
    with _subscribers_lock:
        known = _subscribers.get(engine)
    if known is not None:
        return known
    subjects: dict[str, set[str]] = {}
    for url, subject in session.execute(select(SubscriptionSubject.url, SubscriptionSubject.subject)):
        subjects.setdefault(url, set()).add(subject)
    types: dict[str, set[str]] = {}
    for url, type_ in session.execute(select(SubscriptionEventType.url, SubscriptionEventType.type)):
        types.setdefault(url, set()).add(type_)
    urls = session.scalars(select(Subscription.url).order_by(Subscription.url)).all()
    read = [
        Subscriber(
            url,
            frozenset(subjects[url]) if url in subjects else None,
            frozenset(types[url]) if url in types else None,
        )
        for url in urls
    ]
    with _subscribers_lock:
        _subscribers[engine] = read
    return read


def emit(session: Session, type_: str, data: dict[str, Any], subject: str | None = None) -> str:
    """Queue an event for every subscriber that wants it (its subject and type),
    atomically with the caller's state change. Written with plain SQL (SQLAlchemy Core), as
    every payment and mint emits; the commit listeners (the dispatcher's wake-up) still hear of
    each delivery queued."""
    event_id, now = short_id("evt"), utcnow()
    connection = session.connection()
    connection.execute(_INSERT_EVENT, {"id": event_id, "type": type_, "payload": data, "created_at": now})
    urls = [s.url for s in _subscribers_of(session) if s.wants(type_, subject)]
    if urls:
        rows = [
            {"event_id": event_id, "url": url, "attempts": 0, "next_attempt_at": now, "delivered_at": None}
            for url in urls
        ]
        connection.execute(_INSERT_DELIVERIES, rows)
        written(session, *(Delivery(**row) for row in rows))
    return event_id


def subscribe(
    db: Database,
    url: str,
    subjects: list[str] | None = None,
    types: list[str] | None = None,
    batch: bool = False,
) -> None:
    """Subscribe `url` to every event, or only to events about `subjects` and of `types`, one
    delivery per event or (`batch`) its due events in one; a second call replaces the first."""
    with db.transaction() as session:
        if session.get(Subscription, url) is None:
            session.add(Subscription(url=url))
        session.execute(delete(SubscriptionSubject).where(SubscriptionSubject.url == url))
        session.execute(delete(SubscriptionEventType).where(SubscriptionEventType.url == url))
        session.execute(delete(SubscriptionBatch).where(SubscriptionBatch.url == url))
        if batch:
            session.add(SubscriptionBatch(url=url))
        for subject in sorted(set(subjects or ())):
            session.add(SubscriptionSubject(url=url, subject=subject))
        for type_ in sorted(set(types or ())):
            session.add(SubscriptionEventType(url=url, type=type_))
    with _subscribers_lock:  # read again at the next event
        _subscribers.pop(db.engine, None)


def verify(secret: str, header: str | None, body: bytes, tolerance_s: int = TOLERANCE_S) -> None:
    """Raise a 401 problem unless `header` is a fresh, valid signature of `body`."""
    try:
        check_signature(secret, header, body, tolerance_s)
    except SignatureRefused as e:
        raise Problem(401, e.title, e.detail or "", field=f"header.{SIGNATURE_HEADER}") from e


def first_time(session: Session, event_id: str, sender: str) -> bool:
    """Record `event_id` as processed; False if it was already (a duplicate delivery)."""
    if session.get(InboxEvent, event_id) is not None:
        return False
    session.add(InboxEvent(id=event_id, sender=sender))
    session.flush()
    return True


#: At least this long between two delivery rounds: events queued meanwhile (several a round
#: under load) are read, and their outcomes written, once per round instead of once per event.
DELIVERY_GAP_S = 0.05


class Dispatcher:
    """Delivers queued events in the background; survives restarts (state is in the store)."""

    def __init__(
        self,
        db: Database,
        secret: str,
        retry_base_s: float,
        retry_max_s: float,
        faults: Callable[[], tuple[bool, bool]] = lambda: (False, False),
        min_gap_s: float = DELIVERY_GAP_S,
    ):
        self.db = db
        self.secret = secret
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        #: returns (drop this attempt, send it twice), for fault injection
        self.faults = faults
        self._client = http_client(limits=httpx.Limits(), timeout=5.0)
        #: delivers when a commit queues a delivery (at most one round every `min_gap_s`), back to
        #: back while busy, and looks for retries that fell due every `retry_base_s` (the
        #: shortest retry delay)
        self._worker = PeriodicWorker(
            "webhook-dispatcher", retry_base_s, self._deliver_due, min_gap_s=min_gap_s
        )
        db.on_commit(self._queued)

    def _queued(self, rows: list[Any]) -> None:
        if any(isinstance(row, Delivery) and not row.attempts for row in rows):  # newly queued
            self._worker.poke()

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop(timeout=5)
        self._client.close()

    def poke(self) -> None:
        self._worker.poke()

    def _deliver_due(self) -> bool:
        """One round: every due delivery (up to 50) posted in order, then their outcomes written
        in one transaction (an UPDATE by primary key for the delivered and one for the failed,
        each executed for many rows). Plain column reads (no ORM objects): this runs once per
        round, up to once per queued event.

        A subscriber with `batch` gets the round's first attempts in one POST (a
        `WebhookBatch`); a retry goes alone, as a single event, so that an event its receiver
        refuses is retried by itself and does not hold back the others."""
        with self.db.read() as session:  # an idle look takes no writer lock
            jobs = [
                _Job(*row)
                for row in session.execute(
                    select(
                        Delivery.id,
                        Delivery.url,
                        Delivery.attempts,
                        OutboxEvent.id,
                        OutboxEvent.type,
                        OutboxEvent.payload,
                        OutboxEvent.created_at,
                    )
                    .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
                    .where(Delivery.delivered_at.is_(None), Delivery.next_attempt_at <= utcnow())
                    .order_by(Delivery.id)
                    .limit(BATCH_MAX)
                )
            ]
            # which subscriptions batch: read in the jobs' snapshot (the subscribers `emit` keeps
            # are cached per write engine, and only `emit` needs them)
            batched = set(session.scalars(select(SubscriptionBatch.url))) if jobs else set()
        if not jobs:
            return False
        posts: list[tuple[bool, list[_Job]]] = []  # (as a batch, its deliveries), in order
        batches: dict[str, list[_Job]] = {}
        for job in jobs:
            if job.url not in batched or job.attempts:
                posts.append((False, [job]))
            elif job.url in batches:
                batches[job.url].append(job)
            else:
                batches[job.url] = [job]
                posts.append((True, batches[job.url]))
        # Outcomes by kind, each written by one UPDATE executed for many rows.
        delivered: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for as_batch, group in posts:
            ok, error = self._post(group[0].url, group, as_batch)
            for job in group:
                if ok:
                    delivered.append(
                        {"row_id": job.row_id, "attempts": job.attempts + 1, "delivered_at": utcnow()}
                    )
                    continue
                delay = min(self.retry_base_s * 2**job.attempts, self.retry_max_s)
                failed.append(
                    {
                        "row_id": job.row_id,
                        "attempts": job.attempts + 1,
                        "next_attempt_at": utcnow() + timedelta(seconds=delay),
                        "last_error": error,
                    }
                )
        table = DELIVERIES
        with self.db.transaction() as session:  # rows deleted meanwhile: none updated
            for rows in (delivered, failed):
                if rows:
                    columns = [k for k in rows[0] if k != "row_id"]
                    session.connection().execute(
                        update(table)
                        .where(table.c.id == bindparam("row_id"))
                        .values({k: bindparam(k) for k in columns}),
                        rows,
                    )
        return True

    def _post(self, url: str, jobs: list[_Job], as_batch: bool) -> tuple[bool, str]:
        drop, duplicate = self.faults()
        if drop:
            return False, "dropped by fault injection"
        events = [job.event() for job in jobs]
        body = json.dumps({"events": events} if as_batch else events[0], separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            ID_HEADER: ",".join(job.event_id for job in jobs),
            SIGNATURE_HEADER: sign(self.secret, body),
        }
        try:
            ok = False
            for _ in range(2 if duplicate else 1):
                reply = self._client.post(url, content=body, headers=headers)
                ok = 200 <= reply.status_code < 300
            return ok, "" if ok else f"HTTP {reply.status_code}: {reply.text[:200]}"
        except httpx.HTTPError as e:
            return False, f"{type(e).__name__}: {e}"


class _Job(NamedTuple):
    """A due delivery and its event, as a dispatcher round reads them."""

    row_id: int
    url: str
    attempts: int
    event_id: str
    type: str
    payload: dict[str, Any]
    created_at: datetime

    def event(self) -> dict[str, Any]:
        """The event as delivered (`WebhookEvent`'s fields)."""
        created = self.created_at
        if created.tzinfo is None:  # SQLite keeps no zone; every timestamp is written in UTC
            created = created.replace(tzinfo=UTC)
        return {
            "id": self.event_id,
            "type": self.type,
            "created_at": created.isoformat(),
            "data": self.payload,
        }


def pending_deliveries(db: Database) -> int:
    with db.read() as session:
        return len(list(session.scalars(select(Delivery.id).where(Delivery.delivered_at.is_(None)))))
