"""What a load run cost, per process: CPU seconds (per completed flow) and peak memory.

A `CostMeter` samples, every `interval` seconds while the load runs, each component of the
devnet (the node — its consensus side and geth apart —, each service) and the load generator
(Locust's master and its workers), each with its descendants, by psutil. A component restarted
during the run (chaos) is followed to its new process: the roots are looked up again at each
sample (env.json names them; on docker, the container's main process). CPU time is
`user + system` from the kernel: a process seen at the start counts from its value then, one
that starts later from zero, one that dies with its last sample.

The bottleneck is the process nearest to a full core over the run (CPU seconds / wall
seconds), as a performance engineer would look for it in `top`; with the step whose latency
grew first (`latency_growth`), it is what the summary names.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from pydantic import BaseModel

from devnet.core.env import DevnetEnv

#: Label of the load generator's own processes.
LOAD_GENERATOR = "locust"


class ProcessCost(BaseModel):
    """One process (or a group of same-named children) over a run."""

    name: str
    cpu_s: float
    #: CPU seconds / wall seconds: 1.0 is a full core for the whole run.
    core_share: float
    #: The highest share of a core between two samples.
    peak_core_share: float
    peak_rss_mib: float
    #: CPU milliseconds per completed flow (None when no flow completed).
    cpu_ms_per_flow: float | None = None
    #: Part of the load generator, not of the system under test.
    load_generator: bool = False


class Costs(BaseModel):
    seconds: float
    flows: int
    processes: list[ProcessCost]
    #: Over every process, the load generator included.
    cpu_ms_per_flow: float | None
    #: Over the system under test only (the devnet's processes).
    system_cpu_ms_per_flow: float | None
    bottleneck: str | None
    #: One line a person reads: "issuer at 97% of a core (mint included p95 grew first)".
    verdict: str


@dataclass
class _Seen:
    label: str
    base: float
    last: float


@dataclass
class _Group:
    label: str
    load_generator: bool
    peak_rss: int = 0
    peak_share: float = 0.0


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _child_label(component: str, proc: psutil.Process) -> str:
    if component == LOAD_GENERATOR:  # Locust's --processes: each worker on its own line
        return f"locust worker {proc.pid}"
    try:
        name = proc.name()
    except psutil.Error:
        name = "child"
    return f"{component} {name}"


def container_pid(container_id: str) -> int | None:
    """The host pid of a docker container's main process (None if it is not running)."""
    import docker

    try:
        client = docker.from_env()
        try:
            pid = int(client.containers.get(container_id).attrs["State"]["Pid"])
        finally:
            client.close()
    except Exception:  # the engine or the container is gone: nothing to sample now
        return None
    return pid or None


def devnet_roots(env_file: Path) -> Callable[[], dict[str, int]]:
    """A function answering {component: root pid} for the devnet now (read from env.json at
    each call, so a component restarted by chaos is followed)."""
    cached: dict[str, int] = {}  # container id -> its main process's host pid

    def pid_of(pid: int | None, container: str | None) -> int | None:
        if container is None:
            return pid
        hit = cached.get(container)
        if hit is not None and psutil.pid_exists(hit):
            return hit
        found = container_pid(container)
        if found is not None:
            cached[container] = found
        return found

    def roots() -> dict[str, int]:
        try:
            env = DevnetEnv.load(env_file)
        except (OSError, ValueError):  # being rewritten: the next sample reads it
            return {}
        out: dict[str, int] = {}
        node = pid_of(env.node.pid, env.node.container)
        if node:
            out["node"] = node
        for name, component in env.components.items():
            if component.external:
                continue
            pid = pid_of(component.pid, component.container)
            if pid:
                out[name] = pid
        return out

    return roots


class CostMeter:
    """Samples the processes `roots()` names (component -> root pid; descendants included)
    in a background thread from `start()` to `stop()`."""

    def __init__(self, roots: Callable[[], dict[str, int]], interval: float = 0.5):
        self._roots = roots
        self._interval = interval
        self._seen: dict[int, _Seen] = {}
        self._groups: dict[str, _Group] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._ended = 0.0
        self._first = True
        self._last_sample_at = 0.0

    def start(self) -> CostMeter:
        self._started = time.monotonic()
        self._sample()
        self._first = False
        self._thread = threading.Thread(target=self._run, name="cost-meter", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _processes(self) -> list[tuple[str, bool, psutil.Process]]:
        found: list[tuple[str, bool, psutil.Process]] = []
        for component, pid in self._roots().items():
            try:
                root = psutil.Process(pid)
                children = root.children(recursive=True)
            except psutil.Error:
                continue
            generator = component == LOAD_GENERATOR
            found.append((component, generator, root))
            found += [(_child_label(component, c), generator, c) for c in children]
        return found

    def _sample(self) -> None:
        now = time.monotonic()
        rss_by_label: dict[str, int] = {}
        #: CPU spent since the last sample by processes seen then too: a process first seen now
        #: (a restart) counts in the totals, but its start-up is not this interval's rate.
        delta_by_label: dict[str, float] = {}
        for label, generator, proc in self._processes():
            try:
                cpu, rss = _cpu(proc), int(proc.memory_info().rss)
            except psutil.Error:
                continue
            seen = self._seen.get(proc.pid)
            if seen is None or seen.label != label:  # a new process (or a reused pid)
                seen = self._seen[proc.pid] = _Seen(label, base=cpu if self._first else 0.0, last=cpu)
            delta_by_label[label] = delta_by_label.get(label, 0.0) + (cpu - seen.last)
            seen.last = cpu
            self._groups.setdefault(label, _Group(label, generator))
            rss_by_label[label] = rss_by_label.get(label, 0) + rss
        interval = now - self._last_sample_at
        for label, rss_sum in rss_by_label.items():
            group = self._groups[label]
            group.peak_rss = max(group.peak_rss, rss_sum)
            if not self._first and interval > 0:
                group.peak_share = max(group.peak_share, delta_by_label[label] / interval)
        self._last_sample_at = self._ended = now

    def _used(self, label: str) -> float:
        return sum(s.last - s.base for s in self._seen.values() if s.label == label)

    def stop(self) -> None:
        """Stop sampling, after one last sample (when the load ends: what comes after, such as
        reading the run's blocks, is not the load's cost)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def costs(self, flows: int, latency_growth: str | None = None) -> Costs:
        """The run accounted to `flows` completed flows."""
        self.stop()
        seconds = max(self._ended - self._started, 1e-9)
        rows = []
        for label, group in self._groups.items():
            used = self._used(label)
            rows.append(
                ProcessCost(
                    name=label,
                    cpu_s=round(used, 2),
                    core_share=round(used / seconds, 3),
                    peak_core_share=round(group.peak_share, 3),
                    peak_rss_mib=round(group.peak_rss / 2**20, 1),
                    cpu_ms_per_flow=round(used * 1000 / flows, 1) if flows else None,
                    load_generator=group.load_generator,
                )
            )
        rows.sort(key=lambda r: -r.cpu_s)
        total = sum(r.cpu_s for r in rows)
        system = sum(r.cpu_s for r in rows if not r.load_generator)
        busiest = max(rows, key=lambda r: r.core_share, default=None)
        verdict = "no process sampled"
        if busiest is not None:
            verdict = f"{busiest.name} at {busiest.core_share:.0%} of a core"
            if busiest.load_generator:
                verdict += " (the load generator itself: add --processes)"
            if latency_growth:
                verdict += f"; {latency_growth}"
        return Costs(
            seconds=round(seconds, 1),
            flows=flows,
            processes=rows,
            cpu_ms_per_flow=round(total * 1000 / flows, 1) if flows else None,
            system_cpu_ms_per_flow=round(system * 1000 / flows, 1) if flows else None,
            bottleneck=busiest.name if busiest else None,
            verdict=verdict,
        )


def latency_growth(
    series: dict[str, list[tuple[float, float, float, float]]], factor: float = 1.5
) -> str | None:
    """The step whose p50 latency first rose `factor` times above its own level in the run's
    first quarter (Locust's history: name -> [(time, requests/s, p50, p95)]), as
    "<step> p50 grew first, after N s"; None when no step's did."""
    t0 = min((p[0] for pts in series.values() for p in pts), default=None)
    t1 = max((p[0] for pts in series.values() for p in pts), default=None)
    if t0 is None or t1 is None or t1 <= t0:
        return None
    early_end = t0 + (t1 - t0) / 4
    first: tuple[float, str] | None = None
    for name, points in series.items():
        early = [p[2] for p in points if p[0] <= early_end and p[2] > 0]
        if not early:
            continue
        baseline = sorted(early)[len(early) // 2]
        crossed = next((p[0] for p in points if p[0] > early_end and p[2] > factor * baseline), None)
        if crossed is not None and (first is None or crossed < first[0]):
            first = (crossed, name)
    if first is None:
        return None
    return f"{first[1]} p50 grew first, after {first[0] - t0:.0f} s"
