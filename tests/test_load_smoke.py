"""A short headless Locust run of raw transfers: no failures, every transfer accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest

from devnet.core.accounts import derive_accounts
from devnet.core.chain import Chain
from devnet.world import down, up
from loadtests.run import run_load


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
def test_remittance_flow_load_smoke_reconciles(tmp_path: Path) -> None:
    """Full cycles from 4 users for a few seconds, through `devnet load`'s runner: no failure,
    a run folder with its reports, and a world that still adds up."""
    up(tmp_path / "devnet", engine="geth", services={"bank": None, "custodian": None, "issuer": None})
    try:
        summary = run_load(
            tmp_path / "devnet" / "env.json",
            tmp_path / "run",
            users=4,
            spawn_rate=4,
            duration_s=10,
            user_classes=["RemittanceUser"],
        )
    finally:
        down(tmp_path / "devnet")
    steps = {r["name"]: r for r in summary["steps"]}
    for name in ("bank credit", "mint included", "transfer included", "redeem included", "payout settled"):
        assert steps[name]["failures"] == 0, name
    assert summary["flows_completed"] > 0
    assert summary["reconciliation"]["ok"], summary["reconciliation"]
    assert {"summary.json", "summary.html", "locust.html", "locust_stats_history.csv"} <= {
        p.name for p in (tmp_path / "run").iterdir()
    }
