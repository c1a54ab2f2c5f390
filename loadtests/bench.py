"""`devnet bench`: end-to-end flows/s through every service, and the node's raw ceiling, on the
same node in one run, and how far the first is from the second.

The ceiling floods pre-signed ERC-20 transfers of a private token deployment (so the world's
KGST/USDKG books stay reconcilable); the flows are Locust RemittanceUsers. The ratio compares
flows/s with the ceiling expressed in flows: ceiling gas/s / gas per flow.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devnet.core.accounts import RoleKeys
from devnet.core.deploy import deploy_suite
from devnet.core.env import DevnetEnv
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet, WalletPool
from devnet.profile import BscProfile, Engine, measured_block_period
from devnet.world import down, up
from harness.connect import Devnet
from harness.flood import flood, fund_senders
from loadtests import report
from loadtests.common import WALLETS_PER_USER
from loadtests.run import open_model_users, run_load, wanted_users

#: BSC mainnet's throughput as commonly quoted: the report's second reference line.
BSC_MAINNET_MGAS_PER_S = 133.0


def run_bench(
    engine: Engine,
    run_dir: Path,
    *,
    users: int = 30,
    duration_s: int = 60,
    block_period_s: int | None = None,
    flood_txs: int = 20_000,
    senders: int = 100,
    progress: Callable[[str], None] = lambda _m: None,
    sweep: list[float] | None = None,
) -> dict[str, Any]:
    """Flows (a closed model of `users` RemittanceUsers; or, with `sweep`, open-model runs of
    `duration_s` each at those offered rates until the knee), then the raw ceiling.
    `block_period_s`: geth and anvil seal every second unless told otherwise; bsc takes none."""
    block_period_s = measured_block_period(engine, block_period_s)
    run_dir.mkdir(parents=True, exist_ok=True)
    profile = bench_profile(block_period_s, users, sweep or [], senders)
    with tempfile.TemporaryDirectory(prefix="devnet-bench-") as tmp:
        state = Path(tmp)
        up(
            state,
            engine,
            profile,
            services={"bank": None, "custodian": None, "issuer": None},
            progress=progress,
        )
        try:
            swept = None
            if sweep:
                swept = run_sweep(state / "env.json", run_dir / "sweep", sweep, duration_s, progress)
            progress(f"flows: {users} RemittanceUsers for {duration_s} s ...")
            flows = run_load(
                state / "env.json",
                run_dir / "flows",
                users=users,
                spawn_rate=float(users),
                duration_s=duration_s,
                user_classes=["RemittanceUser"],
                progress=progress,
            )
            devnet = Devnet.attach(state / "env.json")
            try:
                progress(f"ceiling: {flood_txs} pre-signed transfers from {senders} senders ...")
                ceiling = _ceiling(devnet, senders, flood_txs, progress)
            finally:
                devnet.close()
        finally:
            down(state)
    gas_per_flow = flows["chain"]["gas_used"] // max(1, flows["flows_completed"])
    ceiling_flows = ceiling["steady_mgas_per_s"] * 1e6 / gas_per_flow if gas_per_flow else 0.0
    bsc_flows = BSC_MAINNET_MGAS_PER_S * 1e6 / gas_per_flow if gas_per_flow else 0.0
    steps = {r["name"]: r for r in flows["steps"] if r["type"] == "step"}
    sustained = swept["knee_flows_per_s"] if swept else None
    at_knee = next(
        (p for p in (swept or {}).get("points", []) if p["offered_flows_per_s"] == sustained), None
    )
    result = {
        "engine": engine,
        "block_period_s": block_period_s,
        "blocks": profile.blocks_text(engine),
        "users": users,
        "flows_per_s": flows["flows_per_s"],
        "flows_completed": flows["flows_completed"],
        "gas_per_flow": gas_per_flow,
        "ceiling_tx_per_s": ceiling["steady_tx_per_s"],
        "ceiling_mgas_per_s": ceiling["steady_mgas_per_s"],
        "ceiling_flows_per_s": round(ceiling_flows, 1),
        "ceiling_limited_by": ceiling["limited_by"],
        "ratio_to_ceiling": round(flows["flows_per_s"] / ceiling_flows, 4) if ceiling_flows else 0.0,
        "bsc_mainnet_flows_per_s": round(bsc_flows, 1),
        "ratio_to_bsc_mainnet": round(flows["flows_per_s"] / bsc_flows, 4) if bsc_flows else 0.0,
        # the open model's sustained rate (the sweep's knee) against the same ceiling: what the
        # system carries when latency does not bound it, as the closed model's users are
        "knee_flows_per_s": sustained,
        "knee_ratio_to_ceiling": round(sustained / ceiling_flows, 4) if sustained and ceiling_flows else None,
        "knee_cpu_ms_per_flow": at_knee["cpu_ms_per_flow"] if at_knee else None,
        "step_p50_ms": {name: r["p50"] for name, r in steps.items()},
        "cpu_ms_per_flow": flows["costs"]["cpu_ms_per_flow"],
        "system_cpu_ms_per_flow": flows["costs"]["system_cpu_ms_per_flow"],
        "cpu_ms_per_flow_by_process": {p["name"]: p["cpu_ms_per_flow"] for p in flows["costs"]["processes"]},
        "bottleneck": flows["costs"]["verdict"],
        "reconciliation_ok": (flows.get("reconciliation") or {}).get("ok"),
        "flood": ceiling,
        "sweep": swept,
    }
    (run_dir / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def bench_profile(block_period_s: int, users: int, sweep: list[float], senders: int) -> BscProfile:
    """The bench's chain: lanes of accounts for every user the closed run and the sweep's
    highest rate ask for (else that rate is capped by the harness's own users, not by the
    system), clear of the ceiling's senders and its token's roles."""
    most_users = max([users, *(wanted_users(rate) for rate in sweep)])
    return BscProfile(
        block_period_s=block_period_s,
        prefunded_accounts=max(500, 20 + WALLETS_PER_USER * most_users + senders + 130),
    )


#: The sweep stops at the first rate whose completed flows/s fall below this share of the
#: offered rate, or whose flow p95 is more than KNEE_P95_FACTOR times the first rate's.
KNEE_ACHIEVED_SHARE = 0.9
KNEE_P95_FACTOR = 2.0


def sweep_rates(start: float, most: int) -> list[float]:
    """Offered rates, doubling from `start`: 1, 2, 4, 8, ... (`most` of them at the most)."""
    return [start * 2**i for i in range(most)]


def knee(points: list[dict[str, Any]]) -> tuple[float | None, str]:
    """The highest offered rate the system sustained, and why the sweep stopped after it (or
    that it did not stop). `points`: one per rate, in order, with `offered_flows_per_s`,
    `flows_per_s` (completed) and `p95_ms` (flows)."""
    sustained: float | None = None
    base_p95 = points[0]["p95_ms"] if points else 0
    for p in points:
        if p["flows_per_s"] < KNEE_ACHIEVED_SHARE * p["offered_flows_per_s"]:
            started = p.get("started_flows_per_s", p["offered_flows_per_s"])
            busy = (
                f"; only {started:g} started: the {p['users']} users' flows outlasted their "
                f"{p['users'] / p['offered_flows_per_s']:g} s slots"
                if "users" in p and started < KNEE_ACHIEVED_SHARE * p["offered_flows_per_s"]
                else ""
            )
            return sustained, (
                f"at {p['offered_flows_per_s']:g} flows/s offered only {p['flows_per_s']:g} completed "
                f"(< {KNEE_ACHIEVED_SHARE:.0%}){busy}"
            )
        if base_p95 and p["p95_ms"] > KNEE_P95_FACTOR * base_p95:
            return sustained, (
                f"at {p['offered_flows_per_s']:g} flows/s flow p95 {p['p95_ms']} ms is more than "
                f"{KNEE_P95_FACTOR:g}x the first rate's {base_p95} ms"
            )
        sustained = p["offered_flows_per_s"]
    return sustained, "no knee within the rates swept"


def run_sweep(
    env_file: Path,
    run_dir: Path,
    rates: list[float],
    step_s: int,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Open-model runs at each offered rate in turn on one devnet, until the knee (see `knee`)."""
    env = DevnetEnv.load(env_file)
    points: list[dict[str, Any]] = []
    for rate in rates:
        users = open_model_users(env, rate)
        progress(f"sweep: {rate:g} flows/s offered for {step_s} s ({users} users) ...")
        summary = run_load(
            env_file,
            run_dir / f"rate-{rate:g}",
            users=users,
            spawn_rate=rate,
            duration_s=step_s,
            user_classes=["RemittanceUser"],
            rate=rate,
            progress=progress,
        )
        flows = summary["flow_latency_ms"]
        points.append(
            {
                "offered_flows_per_s": rate,
                "users": users,
                "started_flows_per_s": summary["open_model"]["started_flows_per_s"],
                "flows_per_s": summary["open_model"]["completed_flows_per_s"],
                "failed": flows["failed"],
                "p50_ms": flows["p50"],
                "p95_ms": flows["p95"],
                "cpu_ms_per_flow": summary["costs"]["cpu_ms_per_flow"],
                "bottleneck": summary["costs"]["verdict"],
                "reconciliation_ok": (summary.get("reconciliation") or {}).get("ok"),
            }
        )
        sustained, why = knee(points)
        if why != "no knee within the rates swept":
            progress(f"sweep: knee found: {why}")
            break
    sustained, why = knee(points)
    result = {"points": points, "knee_flows_per_s": sustained, "knee_reason": why}
    (run_dir / "sweep.html").write_text(report.sweep_html(result))
    return result


def _ceiling(devnet: Devnet, senders: int, flood_txs: int, progress: Callable[[str], None]) -> dict[str, Any]:
    # Accounts 100.. of the free range: clear of the flow users' lanes (taken from the end).
    accounts = devnet.accounts(100, senders + 10)
    roles = RoleKeys.from_accounts([w.account for w in accounts.wallets[senders:]])
    suite = deploy_suite(devnet.chain, roles)
    token = StableCoinClient(devnet.chain, suite.token("KGST"))
    pool = WalletPool(accounts.wallets[:senders])
    fund_senders(token, Wallet.of(roles.reporter), Wallet.of(roles.minters[0]), pool, token.units(1_000_000))
    result = flood(token, pool, -(-flood_txs // senders), progress=progress)
    return {k: v for k, v in result.as_dict().items() if k != "per_block"}
