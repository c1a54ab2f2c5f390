"""The one background loop every component uses: call `tick()` every `interval_s`, log a failure
and keep going, run at once when poked, and again at once while a tick reports more to do."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx


class PeriodicWorker:
    def __init__(
        self,
        name: str,
        interval_s: float,
        tick: Callable[[], bool | None],
        *,
        first_tick_after: bool = False,
        min_gap_s: float = 0.0,
    ):
        """`tick` returns True when it left work behind (run again now); `first_tick_after`: wait
        one interval before the first tick instead of ticking at start; `min_gap_s`: at least this
        long from one tick's start to the next, pokes or not, so that what arrives meanwhile
        (bank credits, say, several per tick under load) is handled by one tick, not one each."""
        self.name = name
        self.interval_s = interval_s
        self.tick = tick
        self.first_tick_after = first_tick_after
        self.min_gap_s = min_gap_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.getLogger(f"devnet.worker.{name}")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=timeout)

    def poke(self) -> None:
        """Run the next tick now instead of at the end of the interval."""
        self._wake.set()

    def _run(self) -> None:
        if self.first_tick_after:
            self._wake.wait(self.interval_s)
            self._wake.clear()
        while not self._stop.is_set():
            self._wake.clear()  # what poked so far, this tick handles
            started = time.monotonic()
            busy = False
            try:
                busy = bool(self.tick())
            except httpx.HTTPError as e:  # the node or a service is down or restarting: one line, no trace
                self._log.warning("%s tick: unreachable: %s", self.name, e)
            except Exception:  # one bad tick must not end the worker
                self._log.exception("%s tick failed", self.name)
            if not busy:
                self._wake.wait(self.interval_s)
            rest = started + self.min_gap_s - time.monotonic()
            if rest > 0:
                self._stop.wait(rest)


class ChangeGate:
    """Skips a tick that could only find what the last one found: a tick that reads the chain and
    the service's own store runs when the chain's head block (its hash, so a reorg counts) or the
    store changed since the last tick that ended well, and is skipped otherwise. An idle watcher
    then costs one head read per interval, not a tick's worth of reads and writes.

    `head` answers the head block's hash; `mark_changed` is called on each commit to the store
    (except the gated tick's own commits).
    A tick that raised runs again next time; a `busy` tick (work left behind) does too. And one
    runs at least every `max_idle_s` whatever: what a tick checks against the outside world
    without a block (a transaction a restarted node's pool lost, to send again) still happens."""

    def __init__(self, head: Callable[[], str], max_idle_s: float = 3.0):
        self._head = head
        self.max_idle_s = max_idle_s
        self._last_run = 0.0
        self._seen: str | None = None
        self._changed = True
        #: the thread running the gated tick, while it runs
        self._ticking: int | None = None
        self._lock = threading.Lock()
        #: ticks run and skipped, for /info and tests
        self.ran = 0
        self.skipped = 0

    def mark_changed(self) -> None:
        """The store changed (call it from a commit listener). A commit made by the gated tick
        itself does not count: it wrote what it had found, and the next tick would find nothing
        new in it."""
        if threading.get_ident() == self._ticking:
            return
        with self._lock:
            self._changed = True

    def wrap(self, tick: Callable[[], bool | None]) -> Callable[[], bool | None]:
        def gated() -> bool | None:
            head = self._head()
            with self._lock:
                idle = time.monotonic() - self._last_run < self.max_idle_s
                if head == self._seen and not self._changed and idle:
                    self.skipped += 1
                    return False
                self._seen, self._changed = None, False
                self._last_run = time.monotonic()
            self._ticking = threading.get_ident()
            try:
                busy = tick()
            finally:
                self._ticking = None
            self.ran += 1
            with self._lock:
                self._seen = None if busy else head
            return busy

        return gated
