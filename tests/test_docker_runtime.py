"""The docker runtime: images built without a registry, every component a container on one
network, the remittance cycle through them, logs, a failed start that cleans up, and `down`.

One docker world (geth + all services) for these tests, started by the first xdist worker that
needs it and attached to by the others (a file lock and its env.json, like the plugin's
devnets), so it holds even when `xdist_group` is not honoured (pytest 9.2 with pytest-xdist
3.8 drops the group: pytest-xdist#1386); the plugin's end-of-session `down` removes it. The
failure and `down` tests start small devnets of their own. Skipped only when no Docker engine
answers.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from filelock import FileLock
from typer.testing import CliRunner

from devnet.cli import app
from devnet.components import SERVICE_NAMES, SERVICES_IMAGE, ServiceSpec
from devnet.core.env import DevnetEnv
from devnet.core.rpc import Rpc
from devnet.demo import run_demo
from devnet.node.process import StartError
from devnet.runtime.base import Placement
from devnet.runtime.engine import connect, unavailable_reason
from devnet.world import ENV_FILE, down, up

NO_ENGINE = unavailable_reason()
if NO_ENGINE:
    pytest.skip(f"the docker runtime needs a Docker engine: {NO_ENGINE}", allow_module_level=True)

from devnet.runtime import has_docker_run  # noqa: E402
from devnet.runtime.docker import LABEL_COMPONENT, LABEL_STATE, state_label  # noqa: E402
from devnet.runtime.images import build_images, content_of, images_for, present_content, tag_of  # noqa: E402

pytestmark = [
    pytest.mark.docker,
    pytest.mark.xdist_group("docker"),
    # The first run on a machine builds the images (debootstrap, wheels): minutes, not seconds.
    pytest.mark.timeout(1200),
]

ALL_SERVICES: dict[str, str | None] = dict.fromkeys(SERVICE_NAMES)


def _containers(state_dir: Path) -> list[Any]:
    selector = {"label": f"{LABEL_STATE}={state_label(state_dir)}"}
    return list(connect(timeout=30).containers.list(all=True, filters=selector))


def _networks(state_dir: Path) -> list[Any]:
    selector = {"label": f"{LABEL_STATE}={state_label(state_dir)}"}
    return list(connect(timeout=30).networks.list(filters=selector))


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # The run's shared folder, where the devnet plugin's end-of-session `down` looks too.
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return root / "devnet-docker"


@pytest.fixture(scope="session")
def docker_env(state_dir: Path) -> DevnetEnv:
    with FileLock(str(state_dir) + ".lock"):
        if (state_dir / ENV_FILE).is_file():
            return DevnetEnv.load(state_dir / ENV_FILE)
        build_images(connect(), images_for("geth"))  # nothing to do when `make images` ran
        return up(state_dir, "geth", services=ALL_SERVICES, runtime="docker")


def test_images_are_current() -> None:
    client = connect()
    build_images(client, images_for("geth"))
    for name in images_for("geth"):
        assert present_content(client, tag_of(name)) == content_of(name), name


def test_every_component_is_a_container_on_one_network(docker_env: DevnetEnv, state_dir: Path) -> None:
    assert docker_env.runtime == "docker"
    assert docker_env.node.container and docker_env.node.pid is None
    containers = _containers(state_dir)
    by_component = {c.labels[LABEL_COMPONENT]: c for c in containers}
    assert set(by_component) == {"node", *SERVICE_NAMES}
    stopped = {
        c.labels[LABEL_COMPONENT]: (c.status, c.logs(tail=20).decode())
        for c in containers
        if c.status != "running"
    }
    assert not stopped, stopped
    (network,) = _networks(state_dir)
    for name, container in by_component.items():
        endpoint = container.attrs["NetworkSettings"]["Networks"][network.name]
        assert name in endpoint["Aliases"]
    assert docker_env.node.container == by_component["node"].id
    for name in SERVICE_NAMES:
        assert docker_env.components[name].container == by_component[name].id


def test_env_file_has_host_urls_that_answer(docker_env: DevnetEnv, state_dir: Path) -> None:
    saved = DevnetEnv.load(state_dir / ENV_FILE)
    assert saved.rpc_url == docker_env.rpc_url
    assert int(Rpc(saved.rpc_url).call("eth_chainId"), 16) == saved.chain_id == 714
    assert set(saved.services) == set(SERVICE_NAMES)
    for name, url in saved.services.items():
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200, name


def test_kgst_remittance_cycle_through_the_containers(docker_env: DevnetEnv) -> None:
    """Bank credit -> issuer mints (bank webhook to `issuer:8000`, issuer to `node:8545`) ->
    transfer -> redeem -> the issuer pays out through the bank."""
    trace = run_demo(docker_env)
    steps = {s.name: s for s in trace.steps}
    assert steps["mint included"].tx_hash and steps["mint included"].bank_ref
    assert steps["payout settled"].bank_ref


def test_status_and_logs_through_the_cli(docker_env: DevnetEnv, state_dir: Path) -> None:
    runner = CliRunner()
    status = runner.invoke(app, ["status", "--state-dir", str(state_dir)])
    assert status.exit_code == 0, status.output
    assert f"container {(docker_env.node.container or '')[:12]}" in status.output
    # geth logs its start ~60 lines in, then ~5 lines a block: by now 250-300 lines in all.
    node_log = runner.invoke(app, ["logs", "node", "-n", "1000", "--state-dir", str(state_dir)])
    assert node_log.exit_code == 0 and "HTTP server started" in node_log.output
    bank_log = runner.invoke(app, ["logs", "bank", "-n", "200", "--state-dir", str(state_dir)])
    assert bank_log.exit_code == 0 and "Uvicorn running" in bank_log.output


def test_a_component_that_exits_stops_the_others_and_shows_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ServiceSpec.argv

    def command(self: ServiceSpec, place: Placement, data_dir: str) -> list[str]:
        if self.name == "custodian":
            return ["sh", "-c", "echo 'custodian: vault door jammed' >&2; exit 3"]
        return real(self, place, data_dir)

    monkeypatch.setattr(ServiceSpec, "argv", command)
    failing = tmp_path / "failing"
    with pytest.raises(StartError) as raised:
        up(failing, "geth", services={"bank": None, "custodian": None, "issuer": None}, runtime="docker")
    message = str(raised.value)
    assert "custodian exited with code 3" in message
    assert "vault door jammed" in message
    assert _containers(failing) == [] and _networks(failing) == []
    assert not has_docker_run(failing) and not (failing / ENV_FILE).exists()


def test_down_removes_every_container_and_the_network(tmp_path: Path) -> None:
    state_dir = tmp_path / "devnet"
    try:
        env = up(state_dir, "geth", services={"bank": None}, runtime="docker")
        assert env.components["bank"].container
        assert len(_containers(state_dir)) == 2 and len(_networks(state_dir)) == 1
        assert down(state_dir) is True
        assert _containers(state_dir) == [] and _networks(state_dir) == []
        assert not (state_dir / ENV_FILE).exists() and not has_docker_run(state_dir)
        assert down(state_dir) is False
    finally:
        down(state_dir)


def test_up_removes_what_an_earlier_run_left_in_the_same_state_folder(tmp_path: Path) -> None:
    """A run that died without `down` (its env.json gone) leaves containers with the folder's
    label; the next `up` there must not count them as its own. Found in a CI rehearsal."""
    state_dir = tmp_path / "devnet"
    leftover = connect(timeout=30).containers.create(
        SERVICES_IMAGE,
        ["python", "-c", "pass"],
        labels={LABEL_STATE: state_label(state_dir), LABEL_COMPONENT: "node"},
    )
    try:
        env = up(state_dir, "geth", runtime="docker")
        containers = _containers(state_dir)
        assert [c.id for c in containers] == [env.node.container]
        assert all(c.status == "running" for c in containers)
    finally:
        down(state_dir)
        with contextlib.suppress(Exception):
            leftover.remove(force=True)


def test_bsc_validators_run_in_the_node_container(tmp_path: Path) -> None:
    """The bsc engine on docker: the validators' datadirs made here, copied into the bsc image,
    two validators under the cluster process in one container; they take turns, vote each
    other's blocks final, and the contracts are deployed through the published port."""
    from devnet.node.bsc.keys import validator_account
    from devnet.profile import BscProfile

    state_dir = tmp_path / "devnet"
    profile = BscProfile(bsc_validators=2)
    try:
        build_images(connect(), images_for("bsc"))
        env = up(state_dir, "bsc", profile=profile, runtime="docker")
        assert env.node.container and env.node.pid is None
        assert [c.id for c in _containers(state_dir)] == [env.node.container]
        rpc = Rpc(env.rpc_url)
        assert rpc.call("eth_getCode", env.contracts["KGST"], "latest") not in ("0x", None)
        ours = {validator_account(profile, i).address.lower() for i in range(2)}
        assert {v.lower() for v in rpc.call("parlia_getValidators", "latest")} == ours

        def finalized() -> int:
            return int(rpc.call("eth_getBlockByNumber", "finalized", False)["number"], 16)

        from devnet.core.wait import wait_until

        wait_until(lambda: finalized() > 0, 120, "a finalized block (votes begin 40 blocks in)")
        head = int(rpc.call("eth_blockNumber"), 16)
        miners = {
            rpc.call("eth_getBlockByNumber", hex(n), False)["miner"].lower()
            for n in range(head - 10, head + 1)
        }
        assert miners == ours
    finally:
        down(state_dir)
    assert _containers(state_dir) == []
