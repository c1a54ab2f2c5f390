"""pytest plugin: a devnet per engine shared by all pytest-xdist workers, and per-worker lanes.

The first worker that needs an engine starts it under a file lock and writes its environment
file into the run's shared temporary folder; the other workers attach to it. The controller
process (or the only process, without xdist) stops every node at the end of the run.
`--devnet-env PATH` attaches to a devnet that is already running instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from filelock import FileLock

from devnet.core.accounts import RoleKeys, derive_accounts
from devnet.core.chain import Chain
from devnet.core.deploy import Deployment, deploy_suite
from devnet.core.env import DevnetEnv
from devnet.core.wallets import WalletPool
from devnet.services.bank.client import BankClient
from devnet.services.custodian.client import CustodianClient
from devnet.services.exchange.client import ExchangeClient
from devnet.services.issuer.client import IssuerClient
from harness.connect import Devnet

if TYPE_CHECKING:
    from devnet.profile import Engine

ENGINES = ("geth", "anvil", "bsc")
#: --devnet-engine's default: the world runs on the first, the chain-level suite on all three.
DEFAULT_ENGINES = "bsc,geth,anvil"
#: Accounts each worker keeps for the roles of its private deployments.
ROLE_ACCOUNTS = 10


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devnet", "BSC stablecoin devnet")
    group.addoption(
        "--devnet-engine",
        default=DEFAULT_ENGINES,
        help=(
            "engines to run chain tests on, comma-separated; worlds (node, contracts, services) "
            f"run on the first one a test allows (default: {DEFAULT_ENGINES})"
        ),
    )
    group.addoption(
        "--devnet-env", default=None, help="attach to the running devnet described by this env.json"
    )
    group.addoption(
        "--devnet-runtime",
        default="local",
        choices=("local", "docker"),
        help="run the shared devnets as local processes (default) or as Docker containers",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "geth: runs on the geth engine")
    config.addinivalue_line("markers", "anvil: runs on the anvil engine")
    config.addinivalue_line("markers", "bsc: runs on the bsc engine (the real BSC client)")


def _engines(config: pytest.Config) -> list[str]:
    if config.getoption("--devnet-env"):
        return [DevnetEnv.load(Path(config.getoption("--devnet-env"))).node.engine]
    engines = [e.strip() for e in str(config.getoption("--devnet-engine")).split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        raise pytest.UsageError(
            f"--devnet-engine: unknown engine(s) {sorted(unknown)}; choose from {ENGINES}"
        )
    return engines


def _allowed(engines: list[str], node: pytest.Item | pytest.Collector) -> list[str]:
    """`engines` without those the node's `engines` marker (if any) leaves out."""
    marker = node.get_closest_marker("engines")
    return engines if marker is None else [e for e in engines if e in marker.args]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames:
        engines = _allowed(_engines(metafunc.config), metafunc.definition)
        metafunc.parametrize(
            "engine", [pytest.param(e, marks=getattr(pytest.mark, e)) for e in engines], scope="session"
        )


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # xdist gives each worker <controller basetemp>/popen-gwN; the controller's folder is shared.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Reconcile every world this run used (a violation fails the run), then stop every devnet
    it started. First among the session-finish hooks: pytest's own removes the temp folder
    that holds them when the retention policy is "failed"."""
    config = session.config
    if hasattr(config, "workerinput"):
        return  # the controller does it once, after every worker is done
    try:
        _reconcile_worlds(session)
    finally:
        _stop_devnets(config)


def _reconcile_worlds(session: pytest.Session) -> None:
    config = session.config
    envs = [Path(p) for p in [config.getoption("--devnet-env")] if p]
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None and factory._basetemp is not None:
        envs += sorted(Path(factory._basetemp).glob("world-*/env.json"))
    if not envs:
        return
    from harness.reconcile import reconcile

    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for env_file in envs:
        devnet = Devnet(DevnetEnv.load(env_file))
        try:
            report = reconcile(devnet)
        finally:
            devnet.close()
        if reporter is not None:
            reporter.write_sep(
                "=", f"reconciliation of {env_file.parent.name}: {'clean' if report.ok else 'VIOLATED'}"
            )
            reporter.write_line(report.text())
        if not report.ok:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    """Again, for a session that ended before its finish hooks (idempotent)."""
    if hasattr(config, "workerinput"):
        return  # only the controller stops the nodes
    _stop_devnets(config)


def _stop_devnets(config: pytest.Config) -> None:
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None or factory._basetemp is None:
        return
    from devnet.world import down

    # docker-run.json: a docker devnet whose start died before env.json was written.
    patterns = (
        "devnet-*/env.json",
        "world-*/env.json",
        "devnet-*/docker-run.json",
        "world-*/docker-run.json",
    )
    for state_dir in sorted(
        {p.parent for pattern in patterns for p in Path(factory._basetemp).glob(pattern)}
    ):
        down(state_dir)


@pytest.fixture(scope="session")
def devnet_env(
    engine: str, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> DevnetEnv:
    """The environment of the shared devnet for `engine` (started once per test run)."""
    attach = pytestconfig.getoption("--devnet-env")
    if attach:
        return DevnetEnv.load(Path(attach))
    return _start_shared(tmp_path_factory, f"devnet-{engine}", engine, pytestconfig, services=False)


def _start_shared(
    tmp_path_factory: pytest.TempPathFactory, name: str, engine: str, config: pytest.Config, services: bool
) -> DevnetEnv:
    """Start (first worker) or attach to (the others) a devnet kept in the run's shared folder."""
    from devnet.components import SERVICE_NAMES
    from devnet.world import ENV_FILE, up

    state_dir = _shared_root(tmp_path_factory) / name
    with FileLock(str(state_dir) + ".lock"):
        env_file = state_dir / ENV_FILE
        if env_file.is_file():
            return DevnetEnv.load(env_file)
        wanted = dict.fromkeys(SERVICE_NAMES) if services else None
        runtime = config.getoption("--devnet-runtime")
        return up(state_dir, engine=cast("Engine", engine), services=wanted, runtime=runtime)


@pytest.fixture(scope="module")
def world_engine(request: pytest.FixtureRequest) -> Engine:
    """The engine for a world this module starts itself: the first of `--devnet-engine` that the
    module's `engines` marker allows (bsc by default). A module that injects reorgs or seals
    blocks on demand says `pytestmark = pytest.mark.engines("geth")`; when none of the
    configured engines is allowed, its tests are skipped, saying why."""
    configured = _engines(request.config)
    allowed = _allowed(configured, request.node)
    if not allowed:  # the marker left out every configured engine
        marker = request.node.get_closest_marker("engines")
        wanted = " or ".join(marker.args) if marker is not None else "an"
        pytest.skip(f"needs the {wanted} engine; --devnet-engine is {','.join(configured)!r}")
    return cast("Engine", allowed[0])


@pytest.fixture(scope="session")
def devnet_world_env(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> DevnetEnv:
    """The whole world (node, contracts, bank, custodian, issuer, exchange), once per test run,
    on the first configured engine; or the devnet given with --devnet-env."""
    attach = pytestconfig.getoption("--devnet-env")
    if attach:
        return DevnetEnv.load(Path(attach))
    engine = _engines(pytestconfig)[0]
    return _start_shared(tmp_path_factory, f"world-{engine}", engine, pytestconfig, services=True)


@pytest.fixture(scope="session")
def devnet(devnet_world_env: DevnetEnv) -> Iterator[Devnet]:
    """Typed access to the world: chain, kgst, usdkg, bank, custodian, issuer, exchange."""
    handle = Devnet(devnet_world_env)
    yield handle
    handle.close()


@pytest.fixture(scope="session")
def world_lane(devnet_world_env: DevnetEnv) -> WalletPool:
    """This worker's own funded accounts on the world's chain."""
    return _lane(devnet_world_env)


@pytest.fixture(scope="session")
def bank(devnet: Devnet) -> BankClient:
    return devnet.bank


@pytest.fixture(scope="session")
def custodian(devnet: Devnet) -> CustodianClient:
    return devnet.custodian


@pytest.fixture(scope="session")
def issuer(devnet: Devnet) -> IssuerClient:
    return devnet.issuer


@pytest.fixture(scope="session")
def exchange(devnet: Devnet) -> ExchangeClient:
    return devnet.exchange


@pytest.fixture(scope="session")
def chain(devnet_env: DevnetEnv) -> Iterator[Chain]:
    client = Chain(devnet_env.rpc_url, gas_price=devnet_env.gas_price_wei, chain_id=devnet_env.chain_id)
    yield client
    client.close()


@pytest.fixture(scope="session")
def deployment(devnet_env: DevnetEnv) -> Deployment:
    """The devnet's own KGST/USDKG deployment (shared: do not pause or re-role it in tests)."""
    return devnet_env.deployment


@pytest.fixture(scope="session")
def worker_lane(devnet_env: DevnetEnv) -> WalletPool:
    """This worker's own accounts: no other xdist worker ever sends from them."""
    return _lane(devnet_env)


def _lane(env: DevnetEnv) -> WalletPool:
    first, last = env.free_accounts
    pool = WalletPool(derive_accounts(env.mnemonic, first, last - first))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return pool.lane(int(worker.removeprefix("gw")), count)


@pytest.fixture(scope="session")
def lane_roles(worker_lane: WalletPool) -> RoleKeys:
    roles, _ = worker_lane.take(ROLE_ACCOUNTS)
    return RoleKeys.from_accounts([w.account for w in roles])


@pytest.fixture(scope="session")
def users(worker_lane: WalletPool) -> WalletPool:
    """Funded accounts of this worker for token holders, spenders, relayers."""
    _, rest = worker_lane.take(ROLE_ACCOUNTS)
    return rest


@pytest.fixture
def suite(chain: Chain, lane_roles: RoleKeys) -> Deployment:
    """A private KGST + USDKG deployment for one test: pause it, blacklist, change fees freely."""
    return deploy_suite(chain, lane_roles)
