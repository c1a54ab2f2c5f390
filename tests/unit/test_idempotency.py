"""Idempotency-Key semantics: what a retry with the same key gets back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.orm import Session

from devnet.services.common.db import Database
from devnet.services.common.idempotency import run_idempotent
from devnet.services.common.problems import Problem


def answer(response: Any) -> tuple[int, dict[str, Any], bool]:
    return (
        response.status_code,
        json.loads(response.body),
        response.headers.get("Idempotent-Replayed") == "true",
    )


def test_a_success_runs_once_and_is_replayed(db: Database) -> None:
    calls: list[int] = []

    def handle(_session: Session) -> tuple[int, dict[str, Any]]:
        calls.append(1)
        return 201, {"id": len(calls)}

    assert answer(run_idempotent(db, "k", "POST /x", {"a": 1}, handle)) == (201, {"id": 1}, False)
    assert answer(run_idempotent(db, "k", "POST /x", {"a": 1}, handle)) == (201, {"id": 1}, True)
    assert len(calls) == 1


def test_a_refusal_is_an_answer_and_is_replayed(db: Database) -> None:
    calls: list[int] = []

    def handle(_session: Session) -> tuple[int, dict[str, Any]]:
        calls.append(1)
        raise Problem(422, "Insufficient funds", field="body.amount")

    first = answer(run_idempotent(db, "k", "POST /x", {"a": 1}, handle))
    again = answer(run_idempotent(db, "k", "POST /x", {"a": 1}, handle))
    assert first[0] == again[0] == 422 and again[2] and len(calls) == 1


def test_a_server_failure_is_not_stored_so_a_retry_with_the_same_key_runs_again(db: Database) -> None:
    """A 5xx (a dependency down, an injected fault) undid its effects: replaying it would make
    the key useless, so the retry the answer asks for must run the request."""
    outcomes = iter([Problem(503, "Bank unreachable"), Problem(502, "The bank failed"), None])

    def handle(_session: Session) -> tuple[int, dict[str, Any]]:
        problem = next(outcomes)
        if problem is not None:
            raise problem
        return 202, {"id": "done"}

    assert answer(run_idempotent(db, "k", "POST /x", {"a": 1}, handle))[0] == 503
    assert answer(run_idempotent(db, "k", "POST /x", {"a": 1}, handle))[0] == 502
    assert answer(run_idempotent(db, "k", "POST /x", {"a": 1}, handle)) == (202, {"id": "done"}, False)
    assert answer(run_idempotent(db, "k", "POST /x", {"a": 1}, handle)) == (202, {"id": "done"}, True)


def test_the_same_key_with_another_body_is_refused(db: Database) -> None:
    run_idempotent(db, "k", "POST /x", {"a": 1}, lambda _s: (201, {}))
    with pytest.raises(Problem) as refused:
        run_idempotent(db, "k", "POST /x", {"a": 2}, lambda _s: (201, {}))
    assert refused.value.status == 422 and refused.value.field == "header.Idempotency-Key"
