"""A short headless Locust run of raw transfers: no failures, every transfer accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devnet.cli import app
from devnet.core.accounts import derive_accounts
from devnet.core.chain import Chain
from devnet.world import down, up
from loadtests.run import run_load
from loadtests.thresholds import THRESHOLDS_FAILED


@pytest.mark.load
def test_raw_transfer_load_smoke(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = up(tmp_path / "devnet", engine=engine)  # type: ignore[arg-type]
    monkeypatch.setenv("LOAD_FUNDED_LANES", "4")  # Locust's users read it; run_load passes the env on
    try:
        chain = Chain(env.rpc_url, gas_price=env.gas_price_wei)
        first, last = env.free_accounts
        wallets = [a.address for a in derive_accounts(env.mnemonic, first, last - first)]
        before = sum(chain.nonce(a) for a in wallets)
        summary = run_load(
            tmp_path / "devnet" / "env.json",
            tmp_path / "run",
            users=4,
            spawn_rate=4,
            duration_s=8,
            user_classes=["RawTransferUser"],
        )
        assert summary["locust_exit_code"] == 0, (tmp_path / "run" / "locust.log").read_text()[-3000:]
        # Locust's JSON is written after the last user stopped (its CSV lags by up to a second).
        included = {r["name"]: r for r in summary["steps"]}["transfer included"]
        assert included["failures"] == 0
        assert included["requests"] > 0
        # Every reported transfer is on chain, and nothing was sent that was not reported.
        assert sum(chain.nonce(a) for a in wallets) - before == included["requests"]
    finally:
        down(tmp_path / "devnet")


@pytest.mark.load
def test_remittance_flow_load_through_the_cli_is_costed_gated_and_reconciles(tmp_path: Path) -> None:
    """`devnet load` with full cycles from 4 users for a few seconds: no failure, a run folder
    with its reports, a world that still adds up, each process costed, and thresholds that
    set the exit code (99 when one fails, as k6)."""
    state = tmp_path / "devnet"
    up(state, engine="geth", services={"bank": None, "custodian": None, "issuer": None})
    try:
        result = CliRunner().invoke(
            app,
            [
                *("load", "--users", "4", "--spawn-rate", "4", "--duration", "10s"),
                *("--state-dir", str(state), "--out", str(tmp_path / "run")),
                *("--threshold", "failures<1%", "--threshold", "flows_per_s>100000"),
            ],
        )
    finally:
        down(state)
    assert result.exit_code == THRESHOLDS_FAILED, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    steps = {r["name"]: r for r in summary["steps"]}
    for name in ("bank credit", "mint included", "transfer included", "redeem included", "payout settled"):
        assert steps[name]["failures"] == 0, name
    assert summary["flows_completed"] > 0
    assert summary["reconciliation"]["ok"], summary["reconciliation"]
    assert {"summary.json", "summary.html", "locust.html", "locust_stats_history.csv"} <= {
        p.name for p in (tmp_path / "run").iterdir()
    }
    verdicts = {v["expression"]: v for v in summary["thresholds"]}
    assert verdicts["failures<1%"]["ok"] and verdicts["failures<1%"]["actual"] == 0
    assert not verdicts["flows_per_s>100000"]["ok"]
    assert "✗ flows_per_s>100000" in result.output
    # Every process of the system under test and the load generator has its cost.
    costs = summary["costs"]
    names = {p["name"] for p in costs["processes"]}
    assert {"node", "node geth", "bank", "custodian", "issuer", "locust"} <= names, names
    issuer = next(p for p in costs["processes"] if p["name"] == "issuer")
    assert issuer["cpu_s"] > 0 and issuer["peak_rss_mib"] > 10 and issuer["cpu_ms_per_flow"] > 0
    assert costs["cpu_ms_per_flow"] > costs["system_cpu_ms_per_flow"] > 0
    assert costs["bottleneck"] in names and "bottleneck" in result.output
    page = (tmp_path / "run" / "summary.html").read_text()
    assert "Where the CPU went" in page and "Bottleneck" in page and "Thresholds" in page
