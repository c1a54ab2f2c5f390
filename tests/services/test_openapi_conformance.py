"""Each service's OpenAPI schema tells the truth, checked by schemathesis against the running
service: no input gives a 5xx, and every answer (status, content type, body) is one the schema
documents. Plus the bugs it found, each pinned by a test of its own: huge integers in a path,
a query or a body; timestamps without a UTC offset; a signed webhook that is no event.

schemathesis runs as its CLI (`python -m schemathesis.cli run`), the documented way to run every
phase (examples, coverage, fuzzing, stateful) over a whole API; its JSON report is read back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devnet.core.env import DevnetEnv
from devnet.core.webhooks import SIGNATURE_HEADER, sign
from devnet.profile import Engine
from devnet.services.launch import ServiceHandle, start_service
from devnet.world import down, up

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
ADMIN = {"Authorization": "Bearer devnet-admin"}
#: schemathesis' settings: test cases per operation in the fuzzing phase, and scenarios (chains
#: of calls following the links it infers between operations) in the stateful phase. With the
#: coverage phase, every service gets well over 500 cases in about a minute on 2 cores. (More
#: stateful scenarios, 120, tripled the exchange's time for 2 more links covered.)
#: A long poll's `wait` (the issuer's GET /mints/by-payment/... and /redemptions/by-tx/...) is
#: sent as 0.1 s: generated, it would have each case on a record that never comes wait up to its
#: 30 s, and the run spend its time waiting. Its bounds have a test of their own (test_issuer.py).
CONFIG = """
[generation]
max-examples = 40
database = "none"

[parameters]
"query.wait" = "0.1"
"""
#: A deadline for a whole run on a busy machine, not a time the test asserts.
RUN_TIMEOUT_S = 900
MIN_CASES = 500
#: The largest integer the services' stores keep (64-bit signed columns).
MAX_DB_INT = 2**63 - 1
#: Left out of the run: fuzzing PUT /admin/faults turns the service under test into a 503 and
#: latency machine (that is its job) for every request after it. The admin token is sent, so the
#: other admin endpoints are tested past their 401.
EXCLUDED = ("PUT /admin/faults",)


# ---- the services ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceHandle]:
    handle = start_service("bank", tmp_path_factory.mktemp("openapi-bank"))
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def custodian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceHandle]:
    # no price ticker: the price moves only when a test (or schemathesis) asks
    handle = start_service(
        "custodian", tmp_path_factory.mktemp("openapi-custodian"), settings={"price_tick_interval_s": 0}
    )
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def chain_world(tmp_path_factory: pytest.TempPathFactory, world_engine: Engine) -> Iterator[DevnetEnv]:
    """A node with the contracts and all four services, as `devnet up` starts them."""
    root = tmp_path_factory.mktemp("openapi-world")
    env = up(root, engine=world_engine, services=dict.fromkeys(("bank", "custodian", "issuer", "exchange")))
    yield env
    down(root)


# ---- schemathesis ----------------------------------------------------------------------------


def schemathesis(base_url: str, workdir: Path) -> dict[str, Any]:
    """Run every phase with the four checks against `base_url`; the JSON run report."""
    report = workdir / "schemathesis.json"
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    argv = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--header",
        f"Authorization: {ADMIN['Authorization']}",
        *(arg for name in EXCLUDED for arg in ("--exclude-name", name)),
        "--workers",
        "1",
        # Hypothesis' health checks judge the data generation (e.g. too slow on a busy machine),
        # not the API: an unhealthy generator would fail the run with no finding about the service.
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    run = subprocess.run(
        argv, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )
    (workdir / "schemathesis.out").write_text(run.stdout + run.stderr)
    assert report.exists(), f"schemathesis wrote no report (exit {run.returncode}):\n{run.stdout[-3000:]}"
    result: dict[str, Any] = json.loads(report.read_text())
    result["output"] = run.stdout
    return result


def assert_conforms(name: str, result: dict[str, Any]) -> None:
    cases = result["test_cases"]
    stateful = result["phases"]["stateful"]
    print(
        f"{name}: {cases['generated']} cases over {result['operations']['tested']} operations in "
        f"{result['running_time']:.0f} s, seed {result['seed']}; phases "
        + ", ".join(f"{phase} {p['status']}" for phase, p in result["phases"].items())
    )
    for line in result["output"].splitlines():  # what the stateful phase covered
        if line.strip().startswith(("Scenarios:", "API Links:")):
            print(f"  stateful {line.strip()}")
    failures = [
        f"{f['code']} {f['title']} x{f['count']}: {', '.join(f['operations'])}" for f in result["failures"]
    ]
    assert not failures and not result["errors"], (
        f"{name}: schemathesis found problems (replay with --seed {result['seed']}):\n"
        + "\n".join(failures)
        + f"\nerrors: {result['errors']}\n\n{result['output'][-12000:]}"
    )
    assert result["exit_code"] == 0 and result["complete"], result["output"][-3000:]
    assert cases["generated"] >= MIN_CASES, f"{name}: only {cases['generated']} cases"
    assert stateful["status"] == "success", f"{name}: stateful phase {stateful}"
    skipped = result["operations"]["selected"] - result["operations"]["tested"]
    assert skipped == 0, f"{name}: {skipped} operations not tested: {result['operations']}"


@pytest.mark.xdist_group("openapi-bank")
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_bank_answers_as_its_schema_says(bank: ServiceHandle, tmp_path: Path) -> None:
    assert_conforms("bank", schemathesis(bank.url, tmp_path))


@pytest.mark.xdist_group("openapi-custodian")
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_custodian_answers_as_its_schema_says(custodian: ServiceHandle, tmp_path: Path) -> None:
    assert_conforms("custodian", schemathesis(custodian.url, tmp_path))


@pytest.mark.xdist_group("openapi-chain")
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_issuer_answers_as_its_schema_says(chain_world: DevnetEnv, tmp_path: Path) -> None:
    assert_conforms("issuer", schemathesis(chain_world.services["issuer"], tmp_path))


@pytest.mark.xdist_group("openapi-chain")
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_exchange_answers_as_its_schema_says(chain_world: DevnetEnv, tmp_path: Path) -> None:
    assert_conforms("exchange", schemathesis(chain_world.services["exchange"], tmp_path))


# ---- the bugs schemathesis found, one by one -----------------------------------------------


def assert_problem(reply: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = reply.json()
    assert problem["status"] == status and problem["field"] == field, problem
    return problem


def write(url: str, body: dict[str, Any], method: str = "POST", **headers: str) -> httpx.Response:
    return httpx.request(
        method, url, json=body, headers={"Idempotency-Key": uuid.uuid4().hex, **headers}, timeout=30
    )


@pytest.mark.xdist_group("openapi-bank")
def test_bank_refuses_numbers_beyond_64_bits_naming_the_field(bank: ServiceHandle) -> None:
    customer = write(f"{bank.url}/customers", {"name": "Big Numbers", "kyc_tier": "T2"}).json()
    account = write(f"{bank.url}/accounts", {"customer_id": customer["id"], "currency": "KGS"}).json()
    number = account["number"]
    huge = MAX_DB_INT + 1
    deposit = {"account": number, "amount": huge, "currency": "KGS"}
    assert_problem(write(f"{bank.url}/deposits", deposit), 422, "body.amount")
    statement = httpx.get(f"{bank.url}/accounts/{number}/statement", params={"after_entry": huge})
    assert_problem(statement, 422, "query.after_entry")
    # the largest amount is taken once; a second would take the balance past what is kept
    assert write(f"{bank.url}/deposits", {**deposit, "amount": MAX_DB_INT}).status_code == 201
    problem = assert_problem(write(f"{bank.url}/deposits", {**deposit, "amount": 1}), 422, "body.amount")
    assert problem["title"] == "Balance limit exceeded"
    assert httpx.get(f"{bank.url}/accounts/{number}").json()["balance"] == MAX_DB_INT


@pytest.mark.xdist_group("openapi-bank")
def test_bank_timestamps_carry_their_utc_offset(bank: ServiceHandle) -> None:
    customer = write(f"{bank.url}/customers", {"name": "Clock Watcher", "kyc_tier": "T2"}).json()
    number = write(f"{bank.url}/accounts", {"customer_id": customer["id"], "currency": "KGS"}).json()[
        "number"
    ]
    payment = write(f"{bank.url}/deposits", {"account": number, "amount": 100, "currency": "KGS"}).json()
    # read back from the store, which is where the offset used to be lost
    for stamp in (
        httpx.get(f"{bank.url}/payments/{payment['id']}").json()["created_at"],
        httpx.get(f"{bank.url}/accounts/{number}/statement").json()["entries"][0]["booked_at"],
    ):
        assert datetime.fromisoformat(stamp).utcoffset() is not None, stamp


@pytest.mark.xdist_group("openapi-custodian")
def test_custodian_refuses_a_price_beyond_64_bits_naming_the_field(custodian: ServiceHandle) -> None:
    path = {"path": "constant", "price_e8": MAX_DB_INT + 1}
    reply = httpx.put(f"{custodian.url}/admin/price-path", json=path, headers=ADMIN)
    assert_problem(reply, 422, "body.constant.price_e8")
    # a random walk at the ceiling stays there instead of overflowing the store
    walk = {"path": "random_walk", "start_price_e8": MAX_DB_INT, "step_bps": 1000, "seed": 7}
    assert httpx.put(f"{custodian.url}/admin/price-path", json=walk, headers=ADMIN).status_code == 200
    ticked = write(f"{custodian.url}/price/tick", {"ticks": 50}, **ADMIN)
    assert ticked.status_code == 200, ticked.text
    assert 0 < ticked.json()["price_e8"] <= MAX_DB_INT


@pytest.mark.xdist_group("openapi-chain")
def test_issuer_refuses_numbers_beyond_64_bits_naming_the_field(chain_world: DevnetEnv) -> None:
    issuer = chain_world.services["issuer"]
    huge = MAX_DB_INT + 1
    assert_problem(httpx.get(f"{issuer}/mints", params={"limit": huge}), 422, "query.limit")
    assert_problem(httpx.get(f"{issuer}/redemptions", params={"limit": huge}), 422, "query.limit")
    assert_problem(httpx.get(f"{issuer}/mints/{huge}"), 422, "path.mint_id")
    assert_problem(httpx.get(f"{issuer}/mints/{MAX_DB_INT}"), 404, "path.mint_id")
    request = {"customer_account": "1030000000000001", "wallet": "0x" + "11" * 20, "amount_cents": huge}
    assert_problem(write(f"{issuer}/usdkg/mint-requests", request), 422, "body.amount_cents")


@pytest.mark.xdist_group("openapi-chain")
def test_issuer_refuses_a_signed_webhook_that_is_no_event(chain_world: DevnetEnv) -> None:
    issuer = chain_world.services["issuer"]
    secret = chain_world.webhook_secrets["bank"]

    def deliver(body: bytes) -> httpx.Response:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
        return httpx.post(f"{issuer}/webhooks/bank", content=body, headers=headers)

    assert_problem(deliver(b"{not json"), 422, "body")
    assert_problem(deliver(json.dumps({"type": "x", "created_at": "", "data": {}}).encode()), 422, "body.id")
    credit = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "account.credited",
        "created_at": datetime.now().astimezone().isoformat(),
        "data": {  # a whole camt.054 notification but for its payment id
            "entry_id": 1,
            "account": "1030000000000001",
            "account_label": "KGST",
            "credit_debit": "CRDT",
            "amount": 100,
            "currency": "KGS",
            "balance_after": 100,
            "booked_at": datetime.now().astimezone().isoformat(),
            "end_to_end_id": "e2e",
            "remittance_info": "no payment id",
            "kind": "transfer",
            "counterparty": {"account": None, "name": None},
        },
    }
    assert_problem(deliver(json.dumps(credit).encode()), 422, "body.data.payment_id")
    # a batch (a subscription with `batch`): its refused event is named by its place
    other = {**credit, "id": f"evt_{uuid.uuid4().hex}", "type": "account.debited"}
    batch = {"events": [other, credit]}
    assert_problem(deliver(json.dumps(batch).encode()), 422, "body.events.1.data.payment_id")
    assert_problem(deliver(json.dumps({"events": []}).encode()), 422, "body.events")
    assert_problem(deliver(json.dumps({"events": [{"id": "x"}]}).encode()), 422, "body.events.0.type")
    # unsigned: the signature is checked before anything else
    unsigned = httpx.post(
        f"{issuer}/webhooks/bank", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert_problem(unsigned, 401, f"header.{SIGNATURE_HEADER}")


@pytest.mark.xdist_group("openapi-bank")
@pytest.mark.parametrize(
    "url", ["http://[not-a-host", "https://", "http://host:99999/hook", "ftp://host/hook"]
)
def test_a_webhook_subscription_must_be_a_url_the_dispatcher_can_call(bank: ServiceHandle, url: str) -> None:
    reply = httpx.post(f"{bank.url}/admin/subscriptions", json={"url": url}, headers=ADMIN)
    assert_problem(reply, 422, "body.url")
