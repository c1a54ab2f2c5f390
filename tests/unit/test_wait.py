"""One waiting utility: a deadline, what was awaited, the last thing seen, transient errors."""

from __future__ import annotations

import itertools

import pytest

from devnet.core.wait import wait_until


def test_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, "", "ready"])
    assert wait_until(lambda: next(answers), timeout=5, interval=0) == "ready"


def test_a_timeout_says_what_and_the_last_answer() -> None:
    with pytest.raises(TimeoutError, match=r"mint final: not reached in 0.05 s \(last: \[\]\)"):
        wait_until(lambda: [], 0.05, "mint final")


def test_transient_errors_are_not_yet_and_others_raise() -> None:
    calls = itertools.count()

    def flaky() -> str | None:
        n = next(calls)
        if n < 3:
            raise ConnectionError("restarting")
        return "up" if n >= 4 else None

    assert wait_until(flaky, 5, interval=0, transient=(ConnectionError,)) == "up"

    def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        wait_until(broken, 5, interval=0, transient=(ConnectionError,))


def test_transient_if_narrows_which_errors_are_not_yet() -> None:
    def refused() -> None:
        raise OSError(404, "no such mint")

    with pytest.raises(OSError, match="no such mint"):
        wait_until(refused, 5, interval=0, transient=(OSError,), transient_if=lambda e: e.args[0] >= 500)
