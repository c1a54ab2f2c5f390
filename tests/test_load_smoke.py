"""A short headless Locust run of raw transfers: no failures, every transfer accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devnet.cli import app
from devnet.core.accounts import derive_accounts
from devnet.core.chain import Chain
from devnet.profile import Engine
from devnet.world import down, up
from harness.connect import Devnet
from loadtests.lanes import LANES_FILE, read_book
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
def test_remittance_flow_load_through_the_cli_is_costed_gated_and_reconciles(
    tmp_path: Path, world_engine: Engine
) -> None:
    """`devnet load` with full cycles from 4 users for a few seconds: no failure, a run folder
    with its reports, a world that still adds up, each process costed, and thresholds that
    set the exit code (99 when one fails, as k6)."""
    state = tmp_path / "devnet"
    up(state, engine=world_engine, services={"bank": None, "custodian": None, "issuer": None})
    try:
        result = CliRunner().invoke(
            app,
            [
                *("load", "--users", "4", "--spawn-rate", "4", "--duration", "10s"),
                *("--state-dir", str(state), "--out", str(tmp_path / "run")),
                *("--threshold", "failures<1%", "--threshold", "flows_per_s>100000"),
            ],
        )
        first_book = read_book(state / LANES_FILE)
        # The open model: 2 flows/s offered for 8 s by 6 users, whatever the flows' latency.
        opened = CliRunner().invoke(
            app,
            [
                *("load", "--rate", "2", "--users", "6", "--duration", "8s"),
                *("--state-dir", str(state), "--out", str(tmp_path / "open")),
                *("--threshold", "dropped<=100%"),
            ],
        )
        # The lanes' bank customers were opened before each run, kept with the devnet, and
        # used: the second run reused the first's 4 and opened 2 more; every lane's migrant was
        # paid a salary into the account the book names.
        book = read_book(state / LANES_FILE)
        devnet = Devnet.attach(state / "env.json")
        try:
            salaries = {
                lane: [
                    e for e in devnet.bank.statement(c.migrant_account).entries if e.credit_debit == "CRDT"
                ]
                for lane, c in book.items()
            }
        finally:
            devnet.close()
    finally:
        down(state)
    assert len(first_book) == 4 and len(book) == 6, (first_book, book)
    assert all(book[lane] == customers for lane, customers in first_book.items())
    assert all(salaries.values()), salaries
    assert "opening the bank accounts of 4 lanes' customers" in result.output
    assert "opening the bank accounts of 2 lanes' customers" in opened.output
    assert opened.exit_code == 0, opened.output
    model = json.loads((tmp_path / "open" / "summary.json").read_text())["open_model"]
    assert model["offered_flows_per_s"] == 2 and model["users"] == 6 and model["offered"] == 16
    assert model["started"] > 0 and model["dropped"] == max(0, 16 - model["started"])
    assert model["completed"] <= model["started"] and model["completed_flows_per_s"] == round(
        model["completed"] / 8, 2
    )
    assert "flows/s offered" in opened.output
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
    # geth runs under the node's consensus side; one bsc validator is the node itself
    node = {"node", "node geth"} if world_engine == "geth" else {"node"}
    assert {*node, "bank", "custodian", "issuer", "locust"} <= names, names
    issuer = next(p for p in costs["processes"] if p["name"] == "issuer")
    assert issuer["cpu_s"] > 0 and issuer["peak_rss_mib"] > 10 and issuer["cpu_ms_per_flow"] > 0
    assert costs["cpu_ms_per_flow"] > costs["system_cpu_ms_per_flow"] > 0
    assert costs["bottleneck"] in names and "bottleneck" in result.output
    page = (tmp_path / "run" / "summary.html").read_text()
    assert "Where the CPU went" in page and "Bottleneck" in page and "Thresholds" in page


@pytest.mark.load
@pytest.mark.timeout(900)
def test_bench_sweeps_offered_rates_reports_the_knee_and_the_ceiling(
    tmp_path: Path, world_engine: Engine
) -> None:
    """`devnet bench --sweep`: open-model runs at each offered rate on one fresh node, each
    costed and reconciled, a knee (or why none), the page that plots them, then the closed run
    and the raw ceiling. Structure only: how fast is this machine's business, not the test's."""
    result = CliRunner().invoke(
        app,
        [
            *("bench", "--engine", world_engine, "--sweep", "1,2", "--duration", "8s", "--users", "4"),
            *("--flood-txs", "400", "--out", str(tmp_path / "bench")),
        ],
    )
    assert result.exit_code == 0, result.output
    bench = json.loads((tmp_path / "bench" / "bench.json").read_text())
    sweep = bench["sweep"]
    assert 1 <= len(sweep["points"]) <= 2
    assert [p["offered_flows_per_s"] for p in sweep["points"]] == [1, 2][: len(sweep["points"])]
    for point in sweep["points"]:
        assert point["reconciliation_ok"] is True
        assert point["cpu_ms_per_flow"] is None or point["cpu_ms_per_flow"] > 0
        rate_dir = tmp_path / "bench" / "sweep" / f"rate-{point['offered_flows_per_s']:g}"
        assert (rate_dir / "summary.json").is_file()
    assert sweep["knee_reason"]
    assert sweep["knee_flows_per_s"] in (None, 1, 2)
    # the sustained rate against the ceiling, and what a flow cost there
    assert bench["knee_flows_per_s"] == sweep["knee_flows_per_s"]
    if bench["knee_flows_per_s"] is None:
        assert bench["knee_ratio_to_ceiling"] is None and bench["knee_cpu_ms_per_flow"] is None
    else:
        ratio = bench["knee_flows_per_s"] / bench["ceiling_flows_per_s"]
        assert bench["knee_ratio_to_ceiling"] == pytest.approx(ratio, abs=1e-4)
        assert "knee / ceiling" in result.output
    page = (tmp_path / "bench" / "sweep" / "sweep.html").read_text()
    assert "Completed vs offered" in page and "<svg" in page
    assert bench["ceiling_tx_per_s"] > 0 and bench["bottleneck"]
    # what capped the ceiling is named, from the flood's own numbers
    assert bench["ceiling_limited_by"].startswith(("the node: ", "the submitter: "))
    assert bench["flood"]["block_interval_s"] >= 0 and bench["flood"]["tx_per_block"] > 0
    assert "knee (flows/s sustained)" in result.output
