"""The one way everything here waits for a condition: poll a probe until it answers something
truthy, or raise `TimeoutError` saying what was awaited and what was seen last.

`transient` names the errors that mean "not yet" (a service or node restarting answers a refused
connection or a 5xx); any other error is raised at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    timeout: float,
    what: str = "condition",
    *,
    interval: float = 0.02,
    transient: tuple[type[BaseException], ...] = (),
    transient_if: Callable[[BaseException], bool] = lambda _e: True,
) -> T:
    """Until `probe()` is truthy (returned) or `timeout` seconds pass (TimeoutError). An error of
    a `transient` type for which `transient_if` holds counts as "not yet"."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = probe()
        except transient as e:
            if not transient_if(e):
                raise
            result, last = None, e
        else:
            if result:
                return result
            last = result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout:g} s (last: {last!r})")
        time.sleep(interval)
