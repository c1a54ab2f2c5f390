"""The change gate in front of the exchange's workers: a tick runs when the chain's head or the
store changed, when the last one failed or left work, or when it has idled long enough."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from devnet.core.worker import ChangeGate


class Ticks:
    def __init__(self) -> None:
        self.head = "0xa"
        self.count = 0
        self.fail = False
        self.busy = False

    def tick(self) -> bool:
        self.count += 1
        if self.fail:
            raise RuntimeError("node down")
        return self.busy


def gated(max_idle_s: float = 3600.0) -> tuple[Ticks, ChangeGate, Callable[[], bool | None]]:
    t = Ticks()
    gate = ChangeGate(lambda: t.head, max_idle_s=max_idle_s)
    return t, gate, gate.wrap(t.tick)


def test_runs_once_then_skips_while_nothing_changed() -> None:
    t, gate, tick = gated()
    for _ in range(5):
        tick()
    assert t.count == 1
    assert (gate.ran, gate.skipped) == (1, 4)


def test_a_new_head_or_a_reorg_runs_it() -> None:
    t, _, tick = gated()
    tick()
    t.head = "0xb"  # a new block, or the same height on another branch: another hash
    tick()
    tick()
    assert t.count == 2


def test_a_commit_to_the_store_runs_it() -> None:
    t, gate, tick = gated()
    tick()
    gate.mark_changed()
    tick()
    tick()
    assert t.count == 2


def test_a_failed_tick_runs_again() -> None:
    t, _, tick = gated()
    t.fail = True
    with pytest.raises(RuntimeError):
        tick()
    t.fail = False
    tick()
    assert t.count == 2


def test_a_busy_tick_runs_again() -> None:
    t, _, tick = gated()
    t.busy = True
    assert tick() is True
    t.busy = False
    tick()
    tick()
    assert t.count == 2


def test_it_runs_at_least_every_max_idle() -> None:
    t, _, tick = gated(max_idle_s=0.0)
    for _ in range(3):
        tick()
    assert t.count == 3


def test_the_ticks_own_commits_do_not_count_but_others_do() -> None:
    t = Ticks()
    gate = ChangeGate(lambda: t.head, max_idle_s=3600.0)

    def commits_while_ticking() -> bool:
        gate.mark_changed()  # the tick's own write: what it found, nothing new
        return t.tick()

    tick = gate.wrap(commits_while_ticking)
    tick()
    tick()
    assert t.count == 1
    done = threading.Event()
    threading.Thread(target=lambda: (gate.mark_changed(), done.set())).start()  # another writer
    assert done.wait(5)
    tick()
    assert t.count == 2
