"""A background loop that calls `tick()` every `interval_s`, logs failures and keeps going."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx


class PeriodicWorker:
    def __init__(self, name: str, interval_s: float, tick: Callable[[], None]):
        self.name = name
        self.interval_s = interval_s
        self.tick = tick
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.getLogger(f"devnet.worker.{name}")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def poke(self) -> None:
        """Run the next tick now instead of at the end of the interval."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except httpx.HTTPError as e:  # the node or a service is down or restarting: one line, no trace
                self._log.warning("%s tick: unreachable: %s", self.name, e)
            except Exception:  # one bad tick must not end the worker
                self._log.exception("%s tick failed", self.name)
            self._wake.wait(self.interval_s)
            self._wake.clear()
