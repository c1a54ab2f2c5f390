"""Run Locust headless against a devnet and write a run folder: Locust's CSVs (full history),
its HTML report, its JSON stats, and our summary.json + summary.html."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnet.core.blocks import user_load
from devnet.core.env import DevnetEnv
from harness.connect import Devnet
from harness.reconcile import reconcile
from loadtests import report
from loadtests.common import USERS_PER_PROCESS, lanes_of
from loadtests.costs import LOAD_GENERATOR, CostMeter, devnet_roots, latency_growth
from loadtests.lanes import LANES_ENV, flow_lanes, prepare_lanes
from loadtests.thresholds import Threshold, evaluate

if TYPE_CHECKING:
    from devnet.chaos import ChaosPlan

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
FLOW_NAMES = ("kgst remittance cycle", "kgst mint", "kgst redeem", "exchange deposit and withdrawal")
#: Requests that each send one transaction: what was offered to the chain.
TX_STEPS = (
    "transfer included",
    "mint included",
    "redeem included",
    "deposit included",
    "withdrawal completed",
)


def chain_window(devnet: Devnet, first_block: int, last_block: int) -> dict[str, Any]:
    """Transactions and gas that users had included between two blocks, from the blocks
    themselves (BSC's system transactions left out: `devnet.core.blocks`)."""
    blocks = []
    for number in range(first_block, last_block + 1):
        block = devnet.chain.get_block(number, full=True)
        txs, gas = user_load(devnet.chain.rpc, block)
        blocks.append(
            {
                "number": number,
                "timestamp": int(block["timestamp"], 16),
                "txs": txs,
                "gas_used": gas,
            }
        )
    return {
        "first_block": first_block,
        "last_block": last_block,
        "blocks": blocks,
        "txs": sum(b["txs"] for b in blocks),
        "gas_used": sum(b["gas_used"] for b in blocks),
    }


#: Locust's line once its users are spawned (for a shape: its first stage's).
SPAWNED = "All users spawned"
#: Chaos starts anyway when Locust has not said so this long after its expected ramp-up.
SPAWN_GRACE_S = 30.0


def _chaos_once_spawned(
    run: Callable[[threading.Event], object],
    log: Path,
    locust: subprocess.Popen[bytes],
    stop: threading.Event,
    errors: list[BaseException],
    ramp_up_s: float = 0.0,
) -> None:
    """Start the chaos when Locust has spawned its users, so the kills hit a running load and
    not the users' own start (a user whose start fails is gone for the run); an error is kept
    for the load run to raise."""
    deadline = time.monotonic() + ramp_up_s + SPAWN_GRACE_S
    while locust.poll() is None and time.monotonic() < deadline:
        if SPAWNED in log.read_text(errors="replace"):
            break
        if stop.wait(0.1):
            return
    if locust.poll() is not None:
        return
    try:
        run(stop)
    except BaseException as e:
        errors.append(e)


#: Locust users that run flows through the bank (each needs its lane's bank customers).
FLOW_USERS = frozenset({"RemittanceUser", "MintOnlyUser", "RedeemOnlyUser", "ExchangeUser"})

#: An open-model run's users have room for this many seconds of flows in flight.
IN_FLIGHT_S = 20


def open_model_users(env: DevnetEnv, rate: float) -> int:
    """Users for an open-model run at `rate` flows/s: room for IN_FLIGHT_S of flows in flight,
    at most one per lane of wallets the devnet has."""
    lanes = lanes_of(env.free_accounts)
    return min(lanes, wanted_users(rate))


def wanted_users(rate: float) -> int:
    """The users an open-model run at `rate` flows/s asks for (see `open_model_users`)."""
    return max(2, round(IN_FLIGHT_S * rate))


def open_model(
    rate: float | None, users: int, duration_s: float, started: int, completed: int
) -> dict[str, Any] | None:
    """Offered vs started vs completed flows of an open-model run (None for a closed one). The
    users start `rate` per second and each offers one flow per users/rate seconds, so `rate` x
    duration are offered; those not started (a user still busy with its last flow) are
    `dropped`. Flows started in the window may complete after it (Locust's stop timeout), so
    `completed_flows_per_s` is per second of the offered window: the achieved rate."""
    if not rate:
        return None
    offered = round(rate * duration_s)
    return {
        "offered_flows_per_s": rate,
        "users": users,
        "offered": offered,
        "started": started,
        "dropped": max(0, offered - started),
        "completed": completed,
        "started_flows_per_s": round(started / duration_s, 2),
        "completed_flows_per_s": round(completed / duration_s, 2),
    }


def run_load(
    env_file: Path,
    run_dir: Path,
    *,
    users: int,
    spawn_rate: float,
    duration_s: int,
    user_classes: list[str],
    shape: str | None = None,
    processes: int = 1,
    progress: Callable[[str], None] = lambda _m: None,
    chaos: ChaosPlan | None = None,
    thresholds: list[Threshold] | None = None,
    rate: float | None = None,
) -> dict[str, Any]:
    """`chaos`: kill and restart components (and turn faults on) while Locust runs, as
    `devnet chaos` does, from the moment Locust has spawned its users for the plan's duration
    (at most the load's; kills not made when Locust ends are dropped); the summary gets a
    `chaos` section (kills, time to healthy, flows failed, the money's verdict). The devnet's
    state folder is `env_file`'s folder.

    `rate`: an open model: flows are offered at `rate` per second whatever their latency, by
    `users` users each starting a flow every users/rate seconds (started `rate` per second, so
    the starts interleave); a flow that outlasts its slot delays that user's next one, and the
    summary's `open_model` says how many offered flows were not started (k6's dropped
    iterations). Give enough users for rate x flow latency flows in flight.

    Every run is costed (`costs`: CPU and peak memory per process, per completed flow, and the
    bottleneck); `thresholds` are judged on the summary (`thresholds`: each with its value)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    chaos_run = None
    if chaos is not None:
        from devnet.chaos import ChaosRun

        # Kills stop with the load at the latest; a shorter chaos leaves a quiet end.
        seconds = min(chaos.duration_s, float(duration_s))
        chaos_run = ChaosRun(env_file.parent, chaos.model_copy(update={"duration_s": seconds}), progress)
    devnet = Devnet.attach(env_file)
    stop_chaos = threading.Event()
    chaos_thread: threading.Thread | None = None
    chaos_errors: list[BaseException] = []
    try:
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(spawn_rate),
            "-t",
            f"{duration_s}s",
            "--csv",
            str(run_dir / "locust"),
            "--csv-full-history",
            "--html",
            str(run_dir / "locust.html"),
            "--json-file",
            str(run_dir / "stats"),
            "--only-summary",
            "--stop-timeout",
            "30",
        ]
        if processes > 1:
            argv += ["--processes", str(processes)]
        argv += user_classes
        env = {**os.environ, "DEVNET_ENV": str(env_file)}
        if FLOW_USERS & set(user_classes) and "bank" in devnet.env.services:
            lanes = flow_lanes(lanes_of(devnet.env.free_accounts), users, processes, USERS_PER_PROCESS)
            env[LANES_ENV] = str(prepare_lanes(env_file.parent, devnet.bank, lanes, progress))
        if rate:
            env["LOAD_PACING_S"] = f"{users / rate:.6f}"
        if shape:
            env.update(
                LOAD_SHAPE=shape,
                LOAD_USERS=str(users),
                LOAD_DURATION_S=str(duration_s),
                LOAD_SPAWN_RATE=str(spawn_rate),
            )
        first_block = devnet.chain.block_number() + 1
        started = time.time()
        shaped = f", shape {shape}" if shape else ""
        model = f", {rate:g} flows/s offered" if rate else ""
        progress(f"locust: {users} users ({', '.join(user_classes)}), {duration_s} s{shaped}{model} ...")
        with open(run_dir / "locust.log", "w") as log:
            locust = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
            devnet_now = devnet_roots(env_file)
            meter = CostMeter(lambda: {**devnet_now(), LOAD_GENERATOR: locust.pid}).start()
            if chaos_run is not None:
                chaos_thread = threading.Thread(
                    target=_chaos_once_spawned,
                    args=(chaos_run.run, run_dir / "locust.log", locust, stop_chaos, chaos_errors),
                    kwargs={"ramp_up_s": users / spawn_rate},
                    name="chaos",
                )
                chaos_thread.start()
            try:
                code = locust.wait()
            except BaseException:  # interrupted: Locust goes too, as with subprocess.run
                locust.kill()
                raise
            finally:
                meter.stop()
        if chaos_thread is not None:
            stop_chaos.set()  # no kill after the load; a restart under way completes
            chaos_thread.join()
            if chaos_errors:
                raise chaos_errors[0]
        ended = time.time()
        seconds = ended - started
        last_block = devnet.chain.block_number()
        progress(
            f"locust exited with {code} after {seconds:.0f} s; reading blocks {first_block}..{last_block} ..."
        )
        stats: list[dict[str, Any]] = json.loads((run_dir / "stats.json").read_text())
        steps = report.steps_table(stats, seconds)
        flow_latency = report.flow_latency(stats)
        chain = chain_window(devnet, first_block, last_block)
        chain["included_tx_per_s"] = round(chain["txs"] / seconds, 1)
        chain["mgas_per_s"] = round(chain["gas_used"] / seconds / 1e6, 2)
        sends = [r for r in steps if r["name"] in TX_STEPS]
        offered = sum(r["requests"] for r in sends)
        failed = sum(r["failures"] for r in sends)
        flows = sum(r["requests"] - r["failures"] for r in steps if r["name"] in FLOW_NAMES)
        growth = latency_growth(report.history(run_dir / "locust_stats_history.csv"))
        costs = meter.costs(flows, growth)
        reconciliation = None
        checks: list[dict[str, Any]] = []
        if "issuer" in devnet.env.services or chaos_run is not None:
            progress("reconciling the world ...")
            rec = reconcile(devnet, settle_timeout=60 if chaos_run is None else 120)
            checks = [c.model_dump() for c in rec.checks]
            reconciliation = {"ok": rec.ok, "checks": checks}
        chaos_report = None
        if chaos_run is not None:
            flow_rows = [r for r in steps if r["type"] == "flow"]
            flows_failed = (sum(r["failures"] for r in flow_rows), sum(r["requests"] for r in flow_rows))
            chaos_report = chaos_run.finish(checks, flows_failed).model_dump()
        summary = {
            "run": run_dir.name,
            "engine": devnet.env.node.engine,
            "users": f"{users} x {'+'.join(user_classes)}",
            "shape": shape,
            "processes": processes,
            "duration_s": round(seconds, 1),
            "locust_exit_code": code,
            "versions": report.versions(),
            "machine": report.machine(),
            "node": {
                "engine": devnet.env.node.engine,
                "block_period_s": devnet.env.node.block_period_s,
                "chain_id": devnet.env.chain_id,
                "gas_price_wei": devnet.env.gas_price_wei,
            },
            "offered_tx_per_s": round(offered / seconds, 1),
            "accepted_tx_per_s": round((offered - failed) / seconds, 1),
            "flows_completed": flows,
            "flows_per_s": round(flows / seconds, 2),
            "flow_latency_ms": flow_latency,
            "open_model": open_model(rate, users, duration_s, flow_latency["flows"], flows),
            "chain": chain,
            "steps": steps,
            "costs": costs.model_dump(),
            "errors_by_class": report.errors_by_class(run_dir / "locust_failures.csv"),
            "reconciliation": reconciliation,
            "chaos": chaos_report,
        }
        summary["thresholds"] = [v.model_dump() for v in evaluate(thresholds or [], summary)]
        report.write(run_dir, summary)
        return summary
    finally:
        if chaos_thread is not None and chaos_thread.is_alive():  # Locust failed to run
            stop_chaos.set()
            chaos_thread.join()
        devnet.close()
