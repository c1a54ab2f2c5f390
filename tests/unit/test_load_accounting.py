"""The load run's cost accounting and k6-style thresholds, on synthetic processes and summaries."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from loadtests.costs import LOAD_GENERATOR, CostMeter, latency_growth
from loadtests.report import flow_latency
from loadtests.thresholds import ThresholdError, evaluate, parse, parse_all

BUSY = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\ntime.sleep(30)"


def spawn(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def test_the_meter_counts_each_process_and_its_children_and_names_the_busiest() -> None:
    # "issuer" burns ~1 s of CPU in a child; "bank" idles; the load generator burns a little.
    issuer = spawn(
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {BUSY.format(s=1.0)!r}])\n"
        "time.sleep(30)"
    )
    bank = spawn("import time; time.sleep(30)")
    locust = spawn(BUSY.format(s=0.3))
    try:
        meter = CostMeter(lambda: {"issuer": issuer.pid, "bank": bank.pid, LOAD_GENERATOR: locust.pid}, 0.1)
        meter.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until the busy child has spent its second
            child = psutil.Process(issuer.pid).children()
            if child and sum(child[0].cpu_times()[:2]) >= 1.0:
                break
            time.sleep(0.1)
        time.sleep(0.3)
        costs = meter.costs(flows=10, latency_growth="mint included p50 grew first, after 3 s")
    finally:
        for p in (issuer, bank, locust):
            for c in psutil.Process(p.pid).children(recursive=True):
                c.kill()
            p.kill()
            p.wait()
    by_name = {p.name: p for p in costs.processes}
    child = next(name for name in by_name if name.startswith("issuer "))  # "issuer python3"
    assert by_name[child].cpu_s >= 0.9
    assert by_name[child].cpu_ms_per_flow is not None and by_name[child].cpu_ms_per_flow >= 90
    assert by_name["bank"].cpu_s < 0.5 and by_name["bank"].peak_rss_mib > 1
    assert by_name[LOAD_GENERATOR].load_generator and not by_name[child].load_generator
    assert costs.bottleneck == child
    assert costs.verdict.startswith(f"{child} at ") and "mint included p50 grew first" in costs.verdict
    total = sum(p.cpu_s for p in costs.processes)
    assert costs.cpu_ms_per_flow == pytest.approx(total * 100, abs=1)
    assert costs.system_cpu_ms_per_flow is not None and costs.system_cpu_ms_per_flow < costs.cpu_ms_per_flow


def test_a_process_that_starts_during_the_run_counts_from_zero_and_a_restart_is_followed() -> None:
    before = spawn(BUSY.format(s=0.5))  # spends its CPU before the meter starts
    time.sleep(1.5)
    roots = {"issuer": before.pid}
    meter = CostMeter(lambda: dict(roots), 0.1).start()
    after = spawn(BUSY.format(s=0.5))
    try:
        roots["issuer"] = after.pid  # the component restarted: a new root pid
        deadline = time.monotonic() + 20
        while sum(psutil.Process(after.pid).cpu_times()[:2]) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        costs = meter.costs(flows=0)
    finally:
        for p in (before, after):
            p.kill()
            p.wait()
    (issuer,) = costs.processes
    assert 0.4 <= issuer.cpu_s < 0.9  # the new process's half second, none of the old one's
    # One busy thread is at most about one core, its start-up seen at once included.
    assert 0.3 < issuer.peak_core_share <= 1.5
    assert issuer.cpu_ms_per_flow is None and costs.cpu_ms_per_flow is None


def test_the_step_whose_latency_grows_first_is_named() -> None:
    t0 = 1_000.0
    flat = [(t0 + i, 5.0, 100.0, 200.0) for i in range(40)]
    mint = [(t0 + i, 5.0, 100.0 if i < 20 else 400.0, 800.0) for i in range(40)]
    payout = [(t0 + i, 5.0, 50.0 if i < 30 else 300.0, 600.0) for i in range(40)]
    growth = latency_growth({"bank credit": flat, "mint included": mint, "payout settled": payout})
    assert growth == "mint included p50 grew first, after 20 s"
    assert latency_growth({"bank credit": flat}) is None
    assert latency_growth({}) is None


SUMMARY = {
    "flows_per_s": 42.5,
    "chain": {"included_tx_per_s": 130.0, "mgas_per_s": 6.1},
    "steps": [
        {"type": "step", "name": "mint included", "requests": 10, "p50": 900, "p95": 1400, "p99": 2000},
        {
            "type": "flow",
            "name": "kgst remittance cycle",
            "requests": 10,
            "p50": 3000,
            "p95": 4800,
            "p99": 5100,
        },
    ],
    "flow_latency_ms": {
        "flows": 200,
        "failed": 1,
        "failure_share": 0.005,
        "p50": 3000,
        "p95": 4800,
        "p99": 5100,
    },
    "costs": {"cpu_ms_per_flow": 30.2, "system_cpu_ms_per_flow": 21.0},
    "open_model": {"offered": 400, "started": 388, "dropped": 12},
}


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("flow.p95<5000", True),
        ("flow.p99<5000", False),
        ("failures<1%", True),
        ("failures<0.001", False),
        ("flows_per_s>40", True),
        ("flows_per_s>=60", False),
        ("cpu_ms_per_flow<=25", False),
        ("system_cpu_ms_per_flow<25", True),
        ("mint included.p50<1000", True),
        ("'mint included.p95' < 1000", False),
        ("tx_per_s>100", True),
        ("mgas_per_s==6.1", True),
        ("dropped<5%", True),
        ("dropped<1%", False),
    ],
)
def test_a_threshold_is_judged_on_the_summary(expression: str, ok: bool) -> None:
    (verdict,) = evaluate([parse(expression)], SUMMARY)
    assert verdict.ok is ok, verdict


def test_a_metric_the_run_lacks_fails_its_threshold() -> None:
    (verdict,) = evaluate(parse_all(["payout settled.p95<100"]), SUMMARY)
    assert verdict.actual is None and not verdict.ok


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("flow.p95", "write <metric><op><value>"),
        ("latency<5", "unknown metric 'latency'"),
        ("flows_per_s>4%", "only `failures` and `dropped` take a percentage"),
        ("failures<abc", "write <metric><op><value>"),
    ],
)
def test_a_bad_threshold_is_refused_with_what_to_write(expression: str, says: str) -> None:
    with pytest.raises(ThresholdError, match=says):
        parse(expression)


def test_flow_latency_merges_every_flow_histogram() -> None:
    stats = [
        {"method": "flow", "name": "a", "num_requests": 3, "num_failures": 1, "response_times": {"100": 3}},
        {"method": "flow", "name": "b", "num_requests": 1, "num_failures": 0, "response_times": {"900": 1}},
        {"method": "step", "name": "c", "num_requests": 9, "num_failures": 9, "response_times": {"5": 9}},
    ]
    merged = flow_latency(stats)
    assert merged == {"flows": 4, "failed": 1, "failure_share": 0.25, "p50": 100, "p95": 900, "p99": 900}


def test_the_knee_is_the_last_rate_sustained_and_the_reason_is_given() -> None:
    from loadtests.bench import knee, sweep_rates

    assert sweep_rates(1, 5) == [1, 2, 4, 8, 16]

    def point(offered: float, completed: float, p95: int) -> dict[str, float]:
        return {"offered_flows_per_s": offered, "flows_per_s": completed, "p95_ms": p95}

    falls_behind = [point(1, 1.0, 9000), point(2, 1.95, 9500), point(4, 3.1, 11000)]
    assert knee(falls_behind) == (2, "at 4 flows/s offered only 3.1 completed (< 90%)")
    slows = [point(1, 1.0, 8000), point(2, 2.0, 17000)]
    assert knee(slows) == (1, "at 2 flows/s flow p95 17000 ms is more than 2x the first rate's 8000 ms")
    assert knee([point(1, 0.5, 8000)]) == (None, "at 1 flows/s offered only 0.5 completed (< 90%)")
    assert knee([point(1, 1.0, 8000), point(2, 2.0, 9000)]) == (2, "no knee within the rates swept")


def test_a_knee_where_the_users_ran_out_says_so() -> None:
    """At 64 offered, 240 users each still in a ~7 s flow can start only ~34 a second: the
    sweep says the users' flows outlasted their slots (a slow system, or too few users)."""
    from loadtests.bench import knee

    points = [
        {
            "offered_flows_per_s": 32,
            "users": 240,
            "started_flows_per_s": 32.9,
            "flows_per_s": 32.9,
            "p95_ms": 7900,
        },
        {
            "offered_flows_per_s": 64,
            "users": 240,
            "started_flows_per_s": 34.2,
            "flows_per_s": 34.2,
            "p95_ms": 9400,
        },
    ]
    assert knee(points) == (
        32,
        "at 64 flows/s offered only 34.2 completed (< 90%); "
        "only 34.2 started: the 240 users' flows outlasted their 3.75 s slots",
    )
    started_all = [{**points[1], "started_flows_per_s": 63.5, "flows_per_s": 40.0}]
    assert knee(started_all) == (None, "at 64 flows/s offered only 40 completed (< 90%)")


def test_a_bench_prefunds_lanes_for_the_sweeps_highest_rate() -> None:
    """The users a sweep's highest rate asks for all get a lane (the default profile's 500
    accounts make 240: a sweep to 64 flows/s was capped by them)."""
    from devnet.core.accounts import ROLE_LAYOUT
    from devnet.core.env import DevnetEnv
    from loadtests.bench import bench_profile, sweep_rates
    from loadtests.run import open_model_users, wanted_users

    for sweep in ([], sweep_rates(1, 8), [3.0, 100.0]):
        profile = bench_profile(1, 30, sweep, senders=100)
        env = DevnetEnv.model_construct(free_accounts=(ROLE_LAYOUT.first_free, profile.prefunded_accounts))
        for rate in sweep:
            assert open_model_users(env, rate) == wanted_users(rate)
        free = profile.prefunded_accounts - ROLE_LAYOUT.first_free
        users_take = 2 * max([30, *(wanted_users(r) for r in sweep)])  # lanes from the end
        assert free - users_take >= 100 + 100 + 10  # the ceiling's senders and roles: accounts 100..


def test_flow_users_lanes_are_counted_from_the_end_per_worker() -> None:
    """The lanes the runner opens bank customers for are the ones the flow users take:
    user n of worker w takes index w x 64 + n, counted from the last lane."""
    from loadtests.lanes import flow_lanes

    assert flow_lanes(100, 3, 1, 64) == [99, 98, 97]
    assert flow_lanes(200, 5, 2, 64) == [199, 198, 197, 135, 134, 133]
    assert flow_lanes(4, 10, 1, 64) == [3, 2, 1, 0]  # no lane past the devnet's


def test_flow_users_are_paid_wages_for_many_flows_at_once() -> None:
    """A flow user pays in at the bank once per `flows` flows, never less than a flow spends."""
    from loadtests.common import Wages

    wages = Wages(flows=3)
    assert [wages.spend(100) for _ in range(7)] == [300, 0, 0, 300, 0, 0, 300]
    assert wages.left == 200
    assert wages.spend(250) == 750  # a dearer flow than what is left: paid in before it
    assert wages.left == 700
