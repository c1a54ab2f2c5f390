"""The one background loop every component uses: call `tick()` every `interval_s`, log a failure
and keep going, run at once when poked, and again at once while a tick reports more to do."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx


class PeriodicWorker:
    def __init__(
        self, name: str, interval_s: float, tick: Callable[[], bool | None], *, first_tick_after: bool = False
    ):
        """`tick` returns True when it left work behind (run again now); `first_tick_after`: wait
        one interval before the first tick instead of ticking at start."""
        self.name = name
        self.interval_s = interval_s
        self.tick = tick
        self.first_tick_after = first_tick_after
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
            busy = False
            try:
                busy = bool(self.tick())
            except httpx.HTTPError as e:  # the node or a service is down or restarting: one line, no trace
                self._log.warning("%s tick: unreachable: %s", self.name, e)
            except Exception:  # one bad tick must not end the worker
                self._log.exception("%s tick failed", self.name)
            if not busy:
                self._wake.wait(self.interval_s)
                self._wake.clear()
