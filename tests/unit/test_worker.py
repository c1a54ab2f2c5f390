"""The background loop every component uses (devnet.core.worker.PeriodicWorker)."""

from __future__ import annotations

import time

from devnet.core.wait import wait_until
from devnet.core.worker import PeriodicWorker


def test_a_poke_runs_the_next_tick_at_once() -> None:
    ticks: list[float] = []
    worker = PeriodicWorker("test", 60.0, lambda: ticks.append(time.monotonic()))
    worker.start()
    try:
        wait_until(lambda: len(ticks) >= 1 or None, timeout=10, what="the first tick")
        worker.poke()
        wait_until(lambda: len(ticks) >= 2 or None, timeout=10, what="the tick the poke asked for")
    finally:
        worker.stop()


def test_pokes_within_the_minimum_gap_share_one_tick() -> None:
    """Bank credits poke the issuer's mint worker, several per tick under load: with a minimum
    gap, what arrives meanwhile waits for the next tick instead of starting one each."""
    ticks: list[float] = []
    worker = PeriodicWorker("test", 60.0, lambda: ticks.append(time.monotonic()), min_gap_s=5.0)
    worker.start()
    try:
        wait_until(lambda: len(ticks) >= 1 or None, timeout=10, what="the first tick")
        for _ in range(20):
            worker.poke()
            time.sleep(0.01)
        assert len(ticks) == 1  # no tick before 5 s after the first one started
    finally:
        worker.stop()
    assert len(ticks) == 1  # and the stop did not wait out the gap to tick once more


def test_a_stop_does_not_wait_out_the_gap() -> None:
    ticks: list[float] = []
    worker = PeriodicWorker("test", 60.0, lambda: ticks.append(time.monotonic()), min_gap_s=60.0)
    worker.start()
    wait_until(lambda: len(ticks) >= 1 or None, timeout=10, what="the first tick")
    worker.stop(timeout=10)
    assert worker._thread is not None and not worker._thread.is_alive()
