"""`devnet chaos`: components killed with SIGKILL and restarted as a supervisor would, under
load, and the world still reconciling afterwards."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devnet import world
from devnet.chaos import (
    CHAOS_FILE,
    REWIND_WINDOW,
    ChaosError,
    ChaosPlan,
    ChaosReport,
    parse_duration,
    parse_every,
    run_chaos,
    validate,
)
from devnet.core.accounts import derive_accounts
from devnet.core.chain import Chain
from devnet.core.env import DevnetEnv
from devnet.core.wait import wait_until
from devnet.core.wallets import WalletPool
from devnet.profile import Engine
from devnet.services.common.faults import FaultConfig
from devnet.services.common.settings import ServiceSettings
from harness.connect import Devnet
from harness.flows import kgst_remittance_cycle
from harness.reconcile import reconcile
from loadtests.run import run_load
from tests.services.worldkit import customer_account

# ---- the plan: durations and the seeded schedule (no devnet) ------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20s", 20), ("5m", 300), ("1m30s", 90), ("2h", 7200), ("1h2m3s", 3723), ("45", 45), (" 10S ", 10)],
)
def test_durations_read_as_locust_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5-15s", (5, 15)), ("10s", (10, 10)), ("30s-2m", (30, 120)), ("1m-2m", (60, 120)), ("3-3s", (3, 3))],
)
def test_intervals_are_a_range_or_a_fixed_time(text: str, expected: tuple[float, float]) -> None:
    assert parse_every(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "bad duration"),
        ("soon", "Locust's format"),
        ("5x", "Locust's format"),
        ("0s", "more than 0"),
        ("1.5s", "Locust's format"),
        ("-5s", "bad interval"),
        ("15-5s", "down to"),
        ("5-", "bad interval"),
    ],
)
def test_bad_durations_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ChaosError, match=says):
        parse_every(text)


def test_the_same_seed_gives_the_same_schedule() -> None:
    plan = ChaosPlan(duration_s=300, every_s=(5, 15), kill=["issuer", "bank", "node"], seed=7)
    schedule = plan.schedule()
    assert schedule == ChaosPlan.model_validate(plan.model_dump()).schedule()
    assert schedule != plan.model_copy(update={"seed": 8}).schedule()
    times = [0.0, *(k.at_s for k in schedule)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(5 <= gap <= 15 for gap in gaps)
    assert schedule[-1].at_s < 300
    assert {k.component for k in schedule} == {"issuer", "bank", "node"}
    assert len(schedule) >= 300 // 15


def test_a_plan_names_what_cannot_be_killed() -> None:
    env = DevnetEnv.model_validate(
        {
            "chain_id": 714,
            "rpc_url": "http://127.0.0.1:1",
            "gas_price_wei": 1,
            "mnemonic": "test",
            "free_accounts": (20, 500),
            "contracts": {},
            "deployment": {"chain_id": 714, "genesis_hash": "0x00", "roles": {}, "tokens": {}},
            "node": {"engine": "anvil", "pid": 1},
            "components": {
                "bank": {"url": "http://bank.example", "external": True},
                "issuer": {"url": "http://127.0.0.1:2", "pid": 2},
            },
        }
    )
    for kill, says in [
        (["exchange"], "no 'exchange'; its components are: node, bank, issuer"),
        (["bank"], "bank is external"),
        (["node"], "anvil, which keeps its chain in memory"),
        (["issuer"], "does not say how it was started"),
    ]:
        with pytest.raises(ChaosError, match=says):
            validate(ChaosPlan(duration_s=10, kill=kill), env)
    with pytest.raises(ChaosError, match="bank-5xx needs the devnet's own bank"):
        validate(ChaosPlan(duration_s=10, bank_5xx=0.1), env)
    with pytest.raises(ChaosError, match="nothing to do"):
        validate(ChaosPlan(duration_s=10), env)
    with pytest.raises(ValueError, match="named twice"):
        ChaosPlan(duration_s=10, kill=["issuer", "issuer"])


# ---- chaos on a world of its own ------------------------------------------------------------------

SERVICES = {"bank": None, "custodian": None, "issuer": None}
ADMIN = {"Authorization": f"Bearer {ServiceSettings().admin_token}"}


@pytest.fixture(scope="module")
def chaos_world(tmp_path_factory: pytest.TempPathFactory, world_engine: Engine) -> Iterator[Path]:
    """Node (the world engine), contracts, bank, custodian, issuer: killed at will, so no other
    test's."""
    state = tmp_path_factory.mktemp("chaos") / "devnet"
    world.up(state, engine=world_engine, services=SERVICES)
    try:
        yield state
    finally:
        world.down(state)


@pytest.mark.load
def test_issuer_and_bank_killed_under_load_lose_and_duplicate_nothing(chaos_world: Path) -> None:
    """`devnet load --kill issuer,bank --every 3-5s --webhook-loss 0.1 --bank-5xx 0.05`, small:
    every kill comes back, and the money reconciles. The chaos takes the first 25 s of the
    load (its kills come late while a component is still restarting); the load runs on, so
    flows also complete on the world the chaos left."""
    plan = ChaosPlan(
        duration_s=25, every_s=(3, 5), kill=["issuer", "bank"], seed=11, webhook_loss=0.1, bank_5xx=0.05
    )
    assert [k.component for k in plan.schedule()] == ["bank", "issuer"] * 3
    before = DevnetEnv.load(chaos_world / world.ENV_FILE)
    run_dir = chaos_world.parent / "run"
    summary = run_load(
        chaos_world / world.ENV_FILE,
        run_dir,
        users=4,
        spawn_rate=4,
        duration_s=50,
        user_classes=["RemittanceUser"],
        chaos=plan,
        progress=print,
    )
    chaos = ChaosReport.model_validate(summary["chaos"])
    assert len(chaos.kills) >= 5, chaos.text()
    assert {k.component for k in chaos.kills} == {"issuer", "bank"}
    assert chaos.not_back == [], chaos.text()
    assert all(k.new_pid and k.new_pid != k.old_pid for k in chaos.kills)
    assert all(k.seconds_to_healthy is not None and k.seconds_to_healthy > 0 for k in chaos.kills)
    assert chaos.money_violations == [], chaos.text()
    assert summary["reconciliation"]["ok"], summary["reconciliation"]
    assert chaos.ok, chaos.text()
    # The load ran through it: flows completed, and the summary counts the ones that failed.
    assert chaos.flows_total is not None and chaos.flows_failed is not None
    assert chaos.flows_total - chaos.flows_failed > 0
    assert summary["flows_completed"] == chaos.flows_total - chaos.flows_failed
    # The devnet is left as it was found: the same URLs, new pids recorded, no faults on.
    after = DevnetEnv.load(chaos_world / world.ENV_FILE)
    assert after.services == before.services
    assert after.components["issuer"].pid == [k for k in chaos.kills if k.component == "issuer"][-1].new_pid
    for name in SERVICES:
        faults = httpx.get(f"{after.services[name]}/admin/faults", headers=ADMIN, timeout=10).json()
        assert faults == FaultConfig().model_dump(), name
    page = (run_dir / "summary.html").read_text()
    assert "<h2>Chaos</h2>" in page and "money lost or duplicated" in page
    assert json.loads((chaos_world / CHAOS_FILE).read_text())["finished"] is True


def test_after_the_node_is_killed_the_services_carry_on(chaos_world: Path) -> None:
    """The node (consensus side and geth) killed twice while remittances run and blocks keep
    coming: it comes back at the same head, nothing finalized is lost, the services reconnect,
    and a cycle completes."""
    env = DevnetEnv.load(chaos_world / world.ENV_FILE)
    devnet = Devnet(env)
    bank = devnet.bank
    free = devnet.accounts(300, 40)
    stop = threading.Event()
    outcomes: list[str] = []

    def remittances(lane: int) -> None:
        wallets = free.lane(lane, 4)
        i = 0
        while not stop.is_set() and i + 1 < len(wallets):
            migrant, family = wallets[i], wallets[i + 1]
            i += 2
            try:
                kgst_remittance_cycle(
                    devnet,
                    migrant_account=customer_account(bank, funds=100_00),
                    migrant=migrant,
                    family=family,
                    family_account=customer_account(bank, tier="T1"),
                    tyiyn=100_00,
                )
                outcomes.append("ok")
            except Exception as e:  # the node was down under this flow: counted, not raised
                outcomes.append(f"{type(e).__name__}: {e}")

    def blocks() -> None:
        """Blocks keep coming, as with a block period: the head moves around each kill."""
        while not stop.is_set():
            with contextlib.suppress(Exception):  # the node is down for a moment
                devnet.mine(1)
            stop.wait(0.2)

    devnet.mine(REWIND_WINDOW)  # a chain longer than the window of blocks compared per kill
    threads = [threading.Thread(target=remittances, args=(lane,)) for lane in range(3)]
    threads.append(threading.Thread(target=blocks))
    for t in threads:
        t.start()
    try:
        report = run_chaos(
            chaos_world,
            ChaosPlan(duration_s=9, every_s=(3, 3), kill=["node"], seed=1),
            progress=print,
            settle_timeout=0,  # reconciled below, once the flows have stopped
        )
    finally:
        stop.set()
        for t in threads:
            t.join()
    print(f"remittances during the node kills: {outcomes}")
    assert [k.component for k in report.kills] == ["node", "node"], report.text()
    assert report.not_back == []
    for kill in report.kills:
        assert kill.blocks_rewound == 0 and kill.finalized_lost is False, kill
        assert kill.head_after is not None and kill.head_before is not None
        assert kill.head_after >= kill.head_before
    after = DevnetEnv.load(chaos_world / world.ENV_FILE)
    assert after.rpc_url == env.rpc_url and after.node.pid != env.node.pid

    # A cycle after the restarts, through every service: they reconnected to the node.
    devnet.close()
    devnet = Devnet(after)
    try:
        wallets = devnet.accounts(340, 2)
        trace = kgst_remittance_cycle(
            devnet,
            migrant_account=customer_account(devnet.bank, funds=100_00),
            migrant=wallets[0],
            family=wallets[1],
            family_account=customer_account(devnet.bank, tier="T1"),
            tyiyn=100_00,
        )
        assert [s.name for s in trace.steps][-1] == "payout settled"
        rec = reconcile(devnet, settle_timeout=120)
        assert rec.ok, rec.text()
    finally:
        devnet.close()


def _blocks(chain: Chain, first: int, last: int) -> dict[int, str | None]:
    """Block number -> hash, None for a block the node does not have."""
    return {n: (chain.get_block(n) or {}).get("hash") for n in range(first, last + 1)}


def test_a_killed_node_restarts_at_the_same_head_and_finality_resumes(chaos_world: Path) -> None:
    """geth's defaults keep recent state in memory and write asynchronously: killed, it came
    back at genesis, finalized blocks and the deployment gone. Every sealed block survives, and
    `finalized` comes back to at least where it was: at once on geth; bsc answered one block
    lower right after its restart here, and moved on once its votes resumed (its vote manager
    waits 40 blocks after sealing starts)."""
    env = DevnetEnv.load(chaos_world / world.ENV_FILE)
    chain = Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
    wallets = WalletPool(derive_accounts(env.mnemonic, env.free_accounts[0], 3))
    for _ in range(5):
        sent = [
            chain.send(w, wallets[(i + 1) % 3].address, value=1, gas=21_000) for i, w in enumerate(wallets)
        ]
        for tx in sent:
            chain.wait(tx)
    head = chain.block_number()
    finalized = int(chain.get_block("finalized")["number"], 16)
    before = _blocks(chain, 0, head)
    chain.close()

    world.kill(env, "node")
    assert not world.node_running(env)
    restarted = world.restart(chaos_world, "node").env

    assert restarted.rpc_url == env.rpc_url
    assert restarted.node.pid != env.node.pid
    chain = Chain(restarted.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
    try:
        assert _blocks(chain, 0, head) == before  # nothing rewound, not even the head
        wait_until(
            lambda: int(chain.get_block("finalized")["number"], 16) >= finalized,
            60,
            f"finalized back at block {finalized} or later",
        )
        assert chain.code(env.contracts["KGST"])  # the deployment is still there
    finally:
        chain.close()


@pytest.fixture
def docker_world(tmp_path: Path) -> Iterator[Path]:
    from devnet.runtime.engine import unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(f"the docker runtime needs a Docker engine: {reason}")
    from devnet.runtime.engine import connect
    from devnet.runtime.images import build_images, images_for

    build_images(connect(), images_for("geth"))  # nothing to do when `make images` ran
    state = tmp_path / "devnet"
    try:
        world.up(state, engine="geth", services=SERVICES, runtime="docker")
        yield state
    finally:
        world.down(state)


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_chaos_on_docker_restarts_the_same_containers_on_the_same_ports(docker_world: Path) -> None:
    """`docker kill` of the bank, the issuer and the node's container, each started again:
    the same container (its data kept), the same host port (the engine would pick a new one),
    the chain at the same head, and a remittance through all of them afterwards."""
    before = DevnetEnv.load(docker_world / world.ENV_FILE)
    report = run_chaos(
        docker_world,
        ChaosPlan(duration_s=12, every_s=(3, 3), kill=["bank", "issuer", "node"], seed=8),
        progress=print,
    )
    assert sorted(k.component for k in report.kills) == ["bank", "issuer", "node"], report.text()
    assert report.not_back == [] and report.ok, report.text()
    node_kill = next(k for k in report.kills if k.component == "node")
    assert node_kill.blocks_rewound == 0 and node_kill.finalized_lost is False
    after = DevnetEnv.load(docker_world / world.ENV_FILE)
    assert after.rpc_url == before.rpc_url and after.services == before.services
    assert after.node.container == before.node.container
    assert {n: c.container for n, c in after.components.items()} == {
        n: c.container for n, c in before.components.items()
    }
    devnet = Devnet(after)
    try:
        wallets = devnet.accounts(0, 2)
        trace = kgst_remittance_cycle(
            devnet,
            migrant_account=customer_account(devnet.bank, funds=100_00),
            migrant=wallets[0],
            family=wallets[1],
            family_account=customer_account(devnet.bank, tier="T1"),
            tyiyn=100_00,
        )
        assert trace.steps[-1].name == "payout settled"
        rec = reconcile(devnet, settle_timeout=60)
        assert rec.ok, rec.text()
    finally:
        devnet.close()
