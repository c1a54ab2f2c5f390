"""Idempotency-Key handling with Stripe's semantics.

The first response for a key is stored (refusals too) in the same transaction as the side
effect, so a retry after a crash either finds both or neither. The same key with the same
body replays the stored response; with a different body it is a 422. A server failure (a 5xx
problem: a dependency down, an injected fault) undoes its effects and is not stored, so the
retry it asks for runs the request again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import DateTime, Integer, String, Table, bindparam, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from devnet.services.common.db import Base, Database, utcnow
from devnet.services.common.problems import PROBLEM_JSON, Problem

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=255, description="Makes retries of this write safe."
    ),
]


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


KEYS = cast(Table, IdempotencyRecord.__table__)
# Built once (SQLAlchemy computes a cache key for each statement built): every write asks both.
_FIND_KEY = select(KEYS.c.request_hash, KEYS.c.status_code, KEYS.c.response).where(
    KEYS.c.key == bindparam("key"), KEYS.c.scope == bindparam("scope")
)
_INSERT_KEY = insert(KEYS)


def _hash(body: BaseModel | dict[str, Any] | None) -> str:
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else (body or {})
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


#: What a keyed request carried (its hash tells a replay from a reuse of the key).
RequestBody = BaseModel | dict[str, Any] | None
#: Does a request's work in the session given; returns its status and JSON answer, or raises a
#: Problem (a refusal, stored as the answer; a 5xx is not stored).
Handler = Callable[[Session], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Answer:
    """What a request keyed for idempotency got: its status and JSON body, and whether that is
    the stored answer of an earlier request with the same key."""

    status: int
    payload: dict[str, Any]
    replayed: bool = False


def answer_once(
    session: Session,
    key: str,
    scope: str,
    body: RequestBody,
    handler: Handler,
    field: str = "header.Idempotency-Key",
) -> Answer:
    """Within the caller's transaction: run `handler` once per (key, scope), in a savepoint;
    replay its stored answer afterwards. `field` names the key in a 422 for a key reused with
    another body (a bulk request's item keys are in its body)."""
    request_hash = _hash(body)
    # Plain SQL (SQLAlchemy Core) on the session's connection: every write of a service comes
    # through here, and the ORM's identity map and unit of work cost more than the lookup.
    connection = session.connection()
    record = connection.execute(_FIND_KEY, {"key": key, "scope": scope}).first()
    if record is not None:
        if record.request_hash != request_hash:
            raise Problem(
                422,
                "Idempotency-Key reused",
                "this Idempotency-Key was used with a different request body",
                field=field,
            )
        return Answer(record.status_code, record.response, replayed=True)
    savepoint = session.begin_nested()
    try:
        status, payload = handler(session)
        savepoint.commit()
    except Problem as problem:  # a refusal is an answer too: stored, and its effects undone
        savepoint.rollback()
        status, payload = problem.status, problem.body()
        if status >= 500:  # "try again": nothing was done, so the key stays unused
            return Answer(status, payload)
    session.connection().execute(
        _INSERT_KEY,
        {
            "key": key,
            "scope": scope,
            "request_hash": request_hash,
            "status_code": status,
            "response": payload,
            "created_at": utcnow(),
        },
    )
    return Answer(status, payload)


def run_idempotent(db: Database, key: str, scope: str, body: RequestBody, handler: Handler) -> JSONResponse:
    """Run `handler` once per (key, scope), in a transaction of its own; replay its stored answer
    afterwards."""
    with db.transaction() as session:
        answer = answer_once(session, key, scope, body, handler)
    return _response(answer.status, answer.payload, answer.replayed)


def _response(status: int, payload: dict[str, Any], replayed: bool) -> JSONResponse:
    media = PROBLEM_JSON if status >= 400 else "application/json"
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(payload, status_code=status, media_type=media, headers=headers)
