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
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet, WalletPool
from devnet.profile import BscProfile, Engine
from devnet.world import down, up
from harness.connect import Devnet
from harness.flood import flood, fund_senders
from loadtests.run import run_load

#: BSC mainnet's throughput as commonly quoted: the report's second reference line.
BSC_MAINNET_MGAS_PER_S = 133.0


def run_bench(
    engine: Engine,
    run_dir: Path,
    *,
    users: int = 30,
    duration_s: int = 60,
    block_period_s: int = 1,
    flood_txs: int = 20_000,
    senders: int = 100,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    run_dir.mkdir(parents=True, exist_ok=True)
    profile = BscProfile(
        block_period_s=block_period_s, prefunded_accounts=max(500, 20 + 2 * users + senders + 130)
    )
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
    result = {
        "engine": engine,
        "block_period_s": block_period_s,
        "users": users,
        "flows_per_s": flows["flows_per_s"],
        "flows_completed": flows["flows_completed"],
        "gas_per_flow": gas_per_flow,
        "ceiling_tx_per_s": ceiling["steady_tx_per_s"],
        "ceiling_mgas_per_s": ceiling["steady_mgas_per_s"],
        "ceiling_flows_per_s": round(ceiling_flows, 1),
        "ratio_to_ceiling": round(flows["flows_per_s"] / ceiling_flows, 4) if ceiling_flows else 0.0,
        "bsc_mainnet_flows_per_s": round(bsc_flows, 1),
        "ratio_to_bsc_mainnet": round(flows["flows_per_s"] / bsc_flows, 4) if bsc_flows else 0.0,
        "step_p50_ms": {name: r["p50"] for name, r in steps.items()},
        "cpu_ms_per_flow": flows["costs"]["cpu_ms_per_flow"],
        "system_cpu_ms_per_flow": flows["costs"]["system_cpu_ms_per_flow"],
        "cpu_ms_per_flow_by_process": {p["name"]: p["cpu_ms_per_flow"] for p in flows["costs"]["processes"]},
        "bottleneck": flows["costs"]["verdict"],
        "reconciliation_ok": (flows.get("reconciliation") or {}).get("ok"),
        "flood": ceiling,
    }
    (run_dir / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
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
