"""Faults on demand (`devnet chaos`): SIGKILL components of the running devnet at random
(seeded) moments and restart them the way a supervisor would, optionally with the services'
own fault injection on (lost webhooks, bank 5xx), then reconcile the world and report.

The parts, each usable without the CLI:

- `parse_duration` / `parse_every`: Locust's duration format (`20s`, `5m`, `1m30s`) and a
  range of it (`5-15s`);
- `ChaosPlan`: what to kill, how often, for how long, which faults; `schedule()` is the
  seeded list of kills, the same for the same seed;
- `ChaosRun`: carries a plan out against a state folder (kill, restart, wait until healthy,
  faults on and off), recording each kill; `devnet load --kill ...` runs one beside Locust;
- `run_chaos`: a run, then the reconciliation, then the `ChaosReport` (text and JSON).

A running chaos writes `<state dir>/chaos.json` (its pid, plan and kills so far; the report
when it ends): `devnet up` in the foreground reads it to tell a node killed on purpose from
a node that died, and a second chaos on the same devnet is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from devnet import world
from devnet.core.env import DevnetEnv
from devnet.node.process import StartError, pid_alive
from devnet.runtime.base import where

Progress = Callable[[str], None]

CHAOS_FILE = "chaos.json"
BPS = 10_000
#: How long a restarted component has to answer its readiness check.
RESTART_TIMEOUT_S = 90.0
#: Node kills compare this many blocks below the head before and after the restart.
REWIND_WINDOW = 64


class ChaosError(ValueError):
    """Bad input or a devnet the plan cannot run against; the message says which and why."""


# ---- durations ----------------------------------------------------------------------------------

_DURATION = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
_DURATION_HELP = "use Locust's format: 20s, 5m, 1m30s, 1h (a bare number is seconds)"


def parse_duration(text: str) -> float:
    """Seconds in Locust's duration format: `20s`, `5m`, `1m30s`, `2h`; a bare number is seconds."""
    value = text.strip().lower()
    if value.isdigit():
        seconds = int(value)
    else:
        match = _DURATION.fullmatch(value)
        if not value or match is None:
            raise ChaosError(f"bad duration {text!r}: {_DURATION_HELP}")
        parts = {k: int(v) for k, v in match.groupdict().items() if v}
        seconds = parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
    if seconds <= 0:
        raise ChaosError(f"bad duration {text!r}: it must be more than 0 s")
    return float(seconds)


def parse_every(text: str) -> tuple[float, float]:
    """A fixed interval (`10s`) or a range (`5-15s`, `30s-2m`; in `5-15s` the unit of the upper
    bound is the lower one's too) -> (shortest, longest) seconds."""
    low, sep, high = text.strip().partition("-")
    if not sep:
        seconds = parse_duration(low)
        return seconds, seconds
    if not low.strip() or not high.strip():
        raise ChaosError(f"bad interval {text!r}: give a duration (10s) or a range (5-15s)")
    unit = re.search(r"[a-z]+$", high.strip().lower())
    if low.strip().isdigit() and unit:
        low = low.strip() + unit.group(0)
    shortest, longest = parse_duration(low), parse_duration(high)
    if shortest > longest:
        raise ChaosError(f"bad interval {text!r}: the range goes from {shortest:g} s down to {longest:g} s")
    return shortest, longest


def _seconds(value: float) -> str:
    return f"{value:g} s"


# ---- the plan -----------------------------------------------------------------------------------


class ScheduledKill(BaseModel):
    """A kill the plan makes: `at_s` seconds after the start."""

    at_s: float
    component: str


class ChaosPlan(BaseModel):
    """What to kill, how often and for how long, and which of the services' faults to turn on."""

    duration_s: float = Field(gt=0)
    #: Seconds between kills: (shortest, longest), drawn uniformly in between.
    every_s: tuple[float, float] = (5.0, 15.0)
    kill: list[str] = []
    seed: int = 0
    #: Share of webhook deliveries lost (each service's sender retries), 0..1.
    webhook_loss: float = Field(default=0.0, ge=0.0, le=1.0)
    #: Share of the bank's answers that are 503, 0..1.
    bank_5xx: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sane(self) -> ChaosPlan:
        if self.every_s[0] <= 0 or self.every_s[0] > self.every_s[1]:
            raise ValueError(f"every_s must be 0 < shortest <= longest, got {self.every_s}")
        if len(set(self.kill)) != len(self.kill):
            raise ValueError(f"a component is named twice in kill: {self.kill}")
        return self

    def schedule(self) -> list[ScheduledKill]:
        """The kills, in order: the first one interval after the start, each next one an
        interval later, a component drawn for each; the same seed gives the same list."""
        if not self.kill:
            return []
        rng = random.Random(self.seed)
        at, kills = 0.0, list[ScheduledKill]()
        while True:
            at += rng.uniform(*self.every_s)
            if at >= self.duration_s:
                return kills
            kills.append(ScheduledKill(at_s=round(at, 3), component=rng.choice(self.kill)))

    def describe(self) -> str:
        every = (
            _seconds(self.every_s[0])
            if self.every_s[0] == self.every_s[1]
            else f"{self.every_s[0]:g}-{self.every_s[1]:g} s"
        )
        what = f"kill {', '.join(self.kill)} every {every}" if self.kill else "no kills"
        faults = []
        if self.webhook_loss:
            faults.append(f"webhook loss {self.webhook_loss:.0%}")
        if self.bank_5xx:
            faults.append(f"bank 5xx {self.bank_5xx:.0%}")
        return f"{_seconds(self.duration_s)}, {what} (seed {self.seed})" + (
            f"; {', '.join(faults)}" if faults else ""
        )


def validate(plan: ChaosPlan, env: DevnetEnv) -> None:
    """Raise ChaosError unless every part of `plan` can run against `env`'s devnet."""
    if not plan.kill and not plan.webhook_loss and not plan.bank_5xx:
        raise ChaosError("nothing to do: name components to --kill, or turn on --webhook-loss or --bank-5xx")
    for component in plan.kill:
        reason = world.cannot_restart(env, component)
        if reason:
            raise ChaosError(f"--kill {component}: {reason}")
    if plan.bank_5xx:
        bank = env.components.get("bank")
        if bank is None or bank.external:
            raise ChaosError(
                "--bank-5xx needs the devnet's own bank (its fault injection); "
                + ("this devnet's bank is external" if bank else "this devnet runs no bank")
            )
    if plan.webhook_loss and not _own_services(env):
        raise ChaosError("--webhook-loss needs at least one of the devnet's own services; it runs none")


def _own_services(env: DevnetEnv) -> list[str]:
    return [name for name, c in env.components.items() if not c.external]


def fault_settings(plan: ChaosPlan, env: DevnetEnv) -> dict[str, dict[str, int]]:
    """Service -> the `/admin/faults` body the plan sets on it (seeded, shares in bps)."""
    out: dict[str, dict[str, int]] = {}
    for i, name in enumerate(_own_services(env)):
        config: dict[str, int] = {}
        if plan.webhook_loss:
            config["webhook_drop_bps"] = round(plan.webhook_loss * BPS)
        if plan.bank_5xx and name == "bank":
            config["error_rate_bps"] = round(plan.bank_5xx * BPS)
        if config:
            out[name] = {**config, "seed": plan.seed * 100 + i}
    return out


# ---- what happened ------------------------------------------------------------------------------


class Kill(BaseModel):
    """One kill and the restart after it."""

    component: str
    #: Unix time of the SIGKILL, and seconds into the chaos run.
    at: float
    offset_s: float
    old_pid: int | None = None
    new_pid: int | None = None
    #: Seconds from the SIGKILL until the component answered its readiness check again.
    seconds_to_healthy: float | None = None
    #: Starts it took to come back: more than 1 when it exited while starting (a dependency
    #: down, say) and was started again, as a supervisor does.
    start_attempts: int | None = None
    #: Set when it did not come back.
    error: str | None = None
    #: Node kills: the head before the kill and after the restart, and how many of the blocks
    #: just below the old head the restarted node no longer has (0: nothing rewound).
    head_before: int | None = None
    head_after: int | None = None
    blocks_rewound: int | None = None
    finalized_lost: bool | None = None

    @property
    def healthy(self) -> bool:
        return self.error is None


class ComponentStats(BaseModel):
    kills: int
    back: int
    p50_s: float | None
    max_s: float | None


class ChaosReport(BaseModel):
    plan: ChaosPlan
    started: float
    seconds: float
    kills: list[Kill]
    per_component: dict[str, ComponentStats]
    time_to_healthy_p50_s: float | None
    time_to_healthy_max_s: float | None
    #: Components that did not answer again after a kill.
    not_back: list[str]
    #: Flows of the traffic that ran alongside (a load run) that failed; None when the chaos
    #: did not drive that traffic itself.
    flows_failed: int | None = None
    flows_total: int | None = None
    #: The reconciliation's checks (harness.reconcile); money lost or duplicated shows here.
    reconciliation_ok: bool | None = None
    reconciliation: list[dict[str, Any]] = []
    #: The checks that failed: each one is money lost or duplicated (or not accounted for).
    money_violations: list[dict[str, Any]] = []
    #: For a node kill: the most blocks any restart rewound (0 with crash-safe storage).
    max_blocks_rewound: int | None = None

    @property
    def ok(self) -> bool:
        return not self.not_back and not self.money_violations and self.reconciliation_ok is not False

    def text(self) -> str:
        lines = [f"chaos: {len(self.kills)} kills in {self.seconds:.0f} s ({self.plan.describe()})"]
        if self.per_component:
            lines.append(f"  {'component':<10} {'kills':>5} {'back':>5} {'healthy p50':>12} {'max':>8}")
            for name, s in self.per_component.items():
                lines.append(
                    f"  {name:<10} {s.kills:>5} {s.back:>5} {_opt_s(s.p50_s):>12} {_opt_s(s.max_s):>8}"
                )
            lines.append(
                f"  {'all':<10} {len(self.kills):>5} {sum(k.healthy for k in self.kills):>5} "
                f"{_opt_s(self.time_to_healthy_p50_s):>12} {_opt_s(self.time_to_healthy_max_s):>8}"
            )
        if self.max_blocks_rewound == 0:
            lines.append("node restarts: every block the node had sealed was still there")
        elif self.max_blocks_rewound is not None:
            lines.append(f"node restarts: up to {self.max_blocks_rewound} block(s) rewound")
        for name in self.not_back:
            error = next((k.error for k in self.kills if k.component == name and k.error), "")
            lines.append(f"NOT BACK: {name}: {error}")
        if self.flows_failed is not None:
            lines.append(f"flows failed: {self.flows_failed} of {self.flows_total}")
        else:
            lines.append(
                "flows failed: not counted here (`devnet load --kill ...` drives flows and counts them)"
            )
        if self.reconciliation_ok is None:
            lines.append("money lost or duplicated: not checked (no reconciliation)")
        elif not self.money_violations:
            lines.append(
                f"money lost or duplicated: none (reconciliation clean, {len(self.reconciliation)} checks)"
            )
        else:
            lines.append(f"money lost or duplicated: {len(self.money_violations)} check(s) FAILED")
            lines += [f"  FAIL {c['name']}: {c['detail']}" for c in self.money_violations]
        return "\n".join(lines)


def _opt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def summarize(
    plan: ChaosPlan,
    started: float,
    seconds: float,
    kills: list[Kill],
    reconciliation: list[dict[str, Any]] | None = None,
    flows: tuple[int, int] | None = None,
) -> ChaosReport:
    """The report of a run: kills per component, time to healthy (p50, max), what did not
    come back, and the reconciliation's verdict on the money (`reconciliation`: its checks as
    dicts with name, ok, detail). `flows`: (failed, total) of the traffic alongside."""
    per: dict[str, ComponentStats] = {}
    for name in plan.kill:
        mine = [k for k in kills if k.component == name]
        times = [k.seconds_to_healthy for k in mine if k.seconds_to_healthy is not None]
        per[name] = ComponentStats(
            kills=len(mine),
            back=sum(k.healthy for k in mine),
            p50_s=round(statistics.median(times), 2) if times else None,
            max_s=round(max(times), 2) if times else None,
        )
    times = [k.seconds_to_healthy for k in kills if k.seconds_to_healthy is not None]
    rewinds = [k.blocks_rewound for k in kills if k.blocks_rewound is not None]
    checks = reconciliation or []
    return ChaosReport(
        plan=plan,
        started=started,
        seconds=round(seconds, 1),
        kills=kills,
        per_component=per,
        time_to_healthy_p50_s=round(statistics.median(times), 2) if times else None,
        time_to_healthy_max_s=round(max(times), 2) if times else None,
        not_back=sorted({k.component for k in kills if not k.healthy}),
        flows_failed=flows[0] if flows else None,
        flows_total=flows[1] if flows else None,
        reconciliation_ok=all(c["ok"] for c in checks) if reconciliation is not None else None,
        reconciliation=checks,
        money_violations=[c for c in checks if not c["ok"]],
        max_blocks_rewound=max(rewinds) if rewinds else None,
    )


# ---- the run --------------------------------------------------------------------------------------


def chaos_running(state_dir: Path) -> bool:
    """Whether a chaos run (another process, or this one) is killing this devnet's components now."""
    try:
        marker = json.loads((state_dir / CHAOS_FILE).read_text())
    except (OSError, ValueError):
        return False
    return not marker.get("finished", True) and pid_alive(int(marker.get("pid", 0)))


class ChaosRun:
    """Carries a plan out against the devnet in `state_dir`: faults on, each scheduled kill
    (SIGKILL, restart, wait until healthy, faults back on a restarted service), faults off.
    `run` returns when the duration is over or `stop` is set, with every component up."""

    def __init__(self, state_dir: Path, plan: ChaosPlan, progress: Progress = lambda _m: None):
        self.state_dir = state_dir
        self.plan = plan
        self.progress = progress
        self.kills: list[Kill] = []
        self.started = 0.0
        self.started_unix = 0.0
        self.seconds = 0.0
        env = self._env()
        validate(plan, env)
        if chaos_running(state_dir):
            raise ChaosError(
                f"a chaos run is already under way on this devnet (see {state_dir / CHAOS_FILE})"
            )
        self.faults = fault_settings(plan, env)
        #: Held while a component is being killed and restarted.
        self._busy = {name: threading.Lock() for name in plan.kill}
        self._lock = threading.Lock()

    def _env(self) -> DevnetEnv:
        path = self.state_dir / world.ENV_FILE
        if not path.is_file():
            raise ChaosError(f"no devnet running here ({path} not found); `devnet up --detach` first")
        return DevnetEnv.load(path)

    # ---- faults ----

    def _set_faults(self, name: str, env: DevnetEnv) -> None:
        from devnet.core.http import ServiceClient

        client = ServiceClient(env.services[name])
        try:
            client.set_faults(**self.faults[name])
        finally:
            client.close()

    def _clear_faults(self, env: DevnetEnv) -> None:
        from devnet.core.http import ServiceClient

        for name in self.faults:
            client = ServiceClient(env.services[name])
            try:
                client.clear_faults()
            except Exception as e:  # a service that is down has no faults to clear
                self.progress(f"chaos: could not clear {name}'s faults: {e}")
            finally:
                client.close()

    # ---- the node's chain around a kill ----

    def _node_blocks(
        self, env: DevnetEnv, numbers: list[int] | None = None
    ) -> tuple[int, int, dict[int, str]]:
        """(head, finalized, {number: hash}) for `numbers`, by default the last
        REWIND_WINDOW blocks up to the head; a block the node does not have is left out."""
        from devnet.core.rpc import Rpc

        rpc = Rpc(env.rpc_url, timeout=10)
        try:
            head = int(rpc.call("eth_blockNumber"), 16)
            finalized_block = rpc.call("eth_getBlockByNumber", "finalized", False)
            finalized = int(finalized_block["number"], 16) if finalized_block else 0
            if numbers is None:
                numbers = list(range(max(0, head - REWIND_WINDOW + 1), head + 1))
            blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
            found = {n: b["hash"] for n, b in zip(numbers, blocks, strict=True) if isinstance(b, dict)}
            return head, finalized, found
        finally:
            rpc.close()

    def _after_node_restart(self, env: DevnetEnv, kill: Kill, finalized: int, before: dict[int, str]) -> None:
        """Compare the blocks below the old head with the same blocks now (the head moves on)."""
        head, _, after = self._node_blocks(env, sorted(before))
        changed = [n for n, h in before.items() if after.get(n) != h]
        kill.head_after = head
        kill.blocks_rewound = len(changed)
        kill.finalized_lost = any(n <= finalized for n in changed)

    # ---- one kill ----

    def _kill_and_restart(self, component: str) -> Kill:
        env = self._env()
        entry = env.node if component == "node" else env.components[component]
        kill = Kill(component=component, at=0.0, offset_s=0.0, old_pid=entry.pid)
        finalized, before = 0, dict[int, str]()
        if component == "node":
            # The node may not be answering (down already): it is killed all the same.
            with contextlib.suppress(Exception):
                kill.head_before, finalized, before = self._node_blocks(env)
        kill.at = time.time()
        kill.offset_s = round(time.monotonic() - self.started, 2)
        killed = time.monotonic()
        head = f" at head #{kill.head_before}" if kill.head_before is not None else ""
        self.progress(f"chaos +{kill.offset_s:6.1f} s  kill {component} ({where(entry)}){head}")
        world.kill(env, component)
        try:
            restarted = world.restart(self.state_dir, component, timeout=RESTART_TIMEOUT_S)
        except (StartError, OSError, ValueError) as e:
            kill.error = str(e).splitlines()[0]
            self.progress(f"chaos +{self._now():6.1f} s  [red]{component} did NOT come back[/]: {kill.error}")
            return kill
        kill.seconds_to_healthy = round(time.monotonic() - killed, 2)
        kill.start_attempts = restarted.attempts
        env = restarted.env
        kill.new_pid = (env.node if component == "node" else env.components[component]).pid
        if component in self.faults:
            self._set_faults(component, env)
        rewound = ""
        if component == "node":
            self._after_node_restart(env, kill, finalized, before)
            rewound = f", head #{kill.head_after}, {kill.blocks_rewound} block(s) rewound"
            if kill.finalized_lost:
                rewound += " [red](finalized blocks lost)[/]"
        back = f"healthy again in {kill.seconds_to_healthy:.1f} s"
        if restarted.attempts > 1:
            back += f" (started {restarted.attempts} times: it exited while starting)"
        self.progress(f"chaos +{self._now():6.1f} s  {component} {back}{rewound}")
        return kill

    def _now(self) -> float:
        return time.monotonic() - self.started

    # ---- the whole run ----

    def _write_marker(self, finished: bool, report: ChaosReport | None = None) -> None:
        data: dict[str, Any] = {
            "pid": os.getpid(),
            "started": self.started_unix,
            "finished": finished,
            "plan": self.plan.model_dump(),
            "kills": [k.model_dump() for k in self.kills],
        }
        if report is not None:
            data["report"] = report.model_dump()
        path = self.state_dir / CHAOS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)

    def run(self, stop: threading.Event | None = None) -> list[Kill]:
        """Each kill happens at its scheduled time, in a thread of its own: components restart
        side by side, as under one supervisor each. A component still restarting from its
        last kill is killed again as soon as it is healthy (a crash loop, one at a time), so
        a kill can come late, but every planned kill happens: the same seed, the same kills.
        Setting `stop` ends the run early: kills not yet made are dropped, restarts under way
        complete. Returns (and keeps in `kills`) what happened, in order."""
        stop = stop or threading.Event()
        schedule = self.plan.schedule()
        self.started = time.monotonic()
        self.started_unix = time.time()
        self._write_marker(finished=False)
        env = self._env()
        self.progress(f"chaos: {self.plan.describe()}; {len(schedule)} kills planned")
        threads: list[threading.Thread] = []
        try:
            for name in self.faults:
                self._set_faults(name, env)
            for planned in schedule:
                if stop.wait(max(0.0, planned.at_s - self._now())):
                    break
                thread = threading.Thread(
                    target=self._kill_when_up,
                    args=(planned.component, stop),
                    name=f"chaos-{planned.component}",
                )
                thread.start()
                threads.append(thread)
            else:
                stop.wait(max(0.0, self.plan.duration_s - self._now()))
            for thread in threads:
                thread.join()
        except BaseException:
            stop.set()  # interrupted: no more kills; the restarts under way complete
            for thread in threads:
                thread.join()
            raise
        finally:
            self.seconds = self._now()
            self.kills.sort(key=lambda k: k.at)
            self._bring_back()
            self._clear_faults(self._env())
            self._write_marker(finished=True)
        return self.kills

    def _kill_when_up(self, component: str, stop: threading.Event) -> None:
        with self._busy[component]:
            if stop.is_set():
                return
            kill = self._kill_and_restart(component)
            with self._lock:
                self.kills.append(kill)
                self._write_marker(finished=False)

    def _bring_back(self) -> None:
        """A component that did not come back after its kill gets one more restart at the end,
        so the world can be reconciled (it still counts as not back)."""
        for name in sorted({k.component for k in self.kills if not k.healthy}):
            self.progress(f"chaos: restarting {name} once more ...")
            try:
                world.restart(self.state_dir, name, timeout=RESTART_TIMEOUT_S)
            except (StartError, OSError, ValueError) as e:
                self.progress(f"chaos: {name} still does not start: {str(e).splitlines()[0]}")

    def finish(
        self, reconciliation: list[dict[str, Any]] | None, flows: tuple[int, int] | None = None
    ) -> ChaosReport:
        """The report, also written to `<state dir>/chaos.json`."""
        report = summarize(self.plan, self.started_unix, self.seconds, self.kills, reconciliation, flows)
        self._write_marker(finished=True, report=report)
        return report


def run_chaos(
    state_dir: Path,
    plan: ChaosPlan,
    progress: Progress = lambda _m: None,
    settle_timeout: float = 120.0,
    stop: threading.Event | None = None,
) -> ChaosReport:
    """Run `plan` against the devnet in `state_dir`, then reconcile the world (in-flight work
    gets `settle_timeout` seconds to settle) and report."""
    from harness.connect import Devnet
    from harness.reconcile import reconcile

    chaos = ChaosRun(state_dir, plan, progress)
    chaos.run(stop)
    devnet = Devnet(DevnetEnv.load(state_dir / world.ENV_FILE))
    try:
        if "issuer" in devnet.env.services or "bank" in devnet.env.services:
            progress("chaos: reconciling the world ...")
        report = reconcile(devnet, settle_timeout=settle_timeout)
    finally:
        devnet.close()
    return chaos.finish([c.model_dump() for c in report.checks])
