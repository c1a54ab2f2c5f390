"""The docker runtime: every component a container on one Docker network (testcontainers).

- One network per devnet (`bsc-devnet-<run>`); the node answers there as `node:8545`, each
  service as `<name>:8000`. Their ports are also published on the host (loopback only when
  the engine is local), and env.json holds the host URLs.
- The node: geth under its consensus side (`python -m devnet.consensus`) in the geth image.
  The datadir (with the Engine API's JWT secret) is initialised on the host exactly as for
  the local runtime (same genesis code, same geth binary) and copied into the container
  before it starts (`put archive`, not a bind mount: a remote engine (DOCKER_HOST) cannot
  see host folders).
  anvil needs no datadir.
- Services: the services image, settings as environment variables (`ServiceSpec.environment`),
  the issuer's environment file copied in at `/devnet/env.json` with the in-network node URL.
- Wait strategies: JSON-RPC `eth_chainId` for the node, HTTP `/health` for a service; either
  fails at once with the container's log tail when the container exits.
- Cleanup is explicit (no Ryuk reaper: there is no registry to pull it from): everything is
  labelled with the run id and the state folder, and `remove_devnet(state_dir)` removes every
  container and network with that label, after a failed start, on `devnet down`, and at the
  end of a pytest session.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Ryuk (testcontainers' reaper) is an image pulled from a registry; there is none. Must be set
# before testcontainers reads its configuration.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

import httpx
from testcontainers.core.container import DockerContainer
from testcontainers.core.docker_client import DockerClient as TcDockerClient
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget

from devnet.components import NODE_IMAGE, ServiceSpec
from devnet.core.env import ComponentEntry, DevnetEnv, NodeEntry
from devnet.node.node import _init_geth_datadir, anvil_argv, geth_node_argv, rpc_chain_id
from devnet.node.process import StartError, free_port
from devnet.profile import BscProfile, Engine
from devnet.runtime import DOCKER_RUN_FILE, LABEL_PREFIX
from devnet.runtime.engine import connect
from devnet.runtime.images import build_images, images_for, stale_images

if TYPE_CHECKING:
    import docker

Progress = Callable[[str], None]

LABEL_RUN = f"{LABEL_PREFIX}.run"
LABEL_STATE = f"{LABEL_PREFIX}.state-dir"
LABEL_COMPONENT = f"{LABEL_PREFIX}.component"
#: The container port the component serves on (its readiness probe's port).
LABEL_PORT = f"{LABEL_PREFIX}.port"
RPC_PORT = 8545
#: geth's own ports inside the node container (loopback there; the consensus front is public).
GETH_INTERNAL_HTTP_PORT, GETH_AUTHRPC_PORT = 8546, 8551
NODE_ALIAS = "node"
#: The node as every container on the devnet's network reaches it.
NODE_URL = f"http://{NODE_ALIAS}:{RPC_PORT}"
#: Where a service container finds the devnet's environment file (the issuer reads it).
CONTAINER_ENV_FILE = "/devnet/env.json"
LOG_TAIL_LINES = 30
STOP_TIMEOUT_S = 10


def state_label(state_dir: Path) -> str:
    """The label value naming one devnet: this host and its state folder."""
    return f"{socket.gethostname()}:{state_dir.resolve()}"


def internal_url(name: str, port: int = 8000) -> str:
    return f"http://{name}:{port}"


@dataclass(frozen=True)
class DockerNode:
    rpc_url: str
    container: str
    start_seconds: float

    def entry(self, engine: Engine, profile: BscProfile) -> NodeEntry:
        return NodeEntry(engine=engine, container=self.container, block_period_s=profile.block_period_s)


class _ContainerExited(Exception):
    def __init__(self, code: int):
        super().__init__(f"exited with code {code}")
        self.code = code


class ReadyOrExited(WaitStrategy):
    """Ready when `probe(host URL of port)` is true; fails at once if the container exits."""

    def __init__(self, host: str, port: int, probe: Callable[[str], bool], what: str, timeout: float) -> None:
        super().__init__()
        self.with_startup_timeout(int(timeout)).with_poll_interval(0.1)
        self.host = host
        self.port = port
        self._probe = probe
        self.what = what

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        deadline = time.monotonic() + self._startup_timeout
        url: str | None = None
        while True:
            container.reload()
            status = container.status
            if status in ("exited", "dead"):
                state = container.get_wrapped_container().attrs.get("State", {})
                raise _ContainerExited(int(state.get("ExitCode", -1)))
            if status == "running":
                # None when the process exited after the status read (the engine then
                # unpublishes its ports): the next reload sees the exit and its code.
                url = url or _published_url_or_none(container.get_wrapped_container(), self.host, self.port)
                if url is not None and self._probe(url):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.what} not ready after {self._startup_timeout:.0f} s")
            time.sleep(self._poll_interval)


def _published_url_or_none(container: Any, host: str, port: int) -> str | None:
    bindings = container.client.api.port(container.id, port)
    return f"http://{host}:{bindings[0]['HostPort']}" if bindings else None


def published_url(container: Any, host: str, port: int) -> str:
    """http://host:<the host port the engine published `port` on>."""
    url = _published_url_or_none(container, host, port)
    if url is None:
        raise StartError(f"the engine published no port for {port}/tcp of {container.name}")
    return url


def _healthy(path: str) -> Callable[[str], bool]:
    def probe(url: str) -> bool:
        try:
            return httpx.get(f"{url}{path}", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


class DockerRuntime:
    """Starts the components of one devnet as containers; `stop` removes all of them."""

    def __init__(self, state_dir: Path, progress: Progress = lambda _m: None, timeout: float = 60.0):
        self.client = connect()
        self.state_dir = state_dir
        self.progress = progress
        self.timeout = timeout
        self.run_id = secrets.token_hex(4)
        self.labels = {LABEL_RUN: self.run_id, LABEL_STATE: state_label(state_dir)}
        self.network: Network | None = None
        self._local_engine = self.client.api.base_url.startswith("http+docker://local")
        #: Where published ports answer: this machine for a local engine (its socket), else
        #: the engine's host (DOCKER_HOST; TESTCONTAINERS_HOST_OVERRIDE overrides it).
        self.host = "127.0.0.1" if self._local_engine else TcDockerClient().host()

    # ---- lifecycle ----------------------------------------------------------------------------

    def prepare(self, engine: Engine) -> None:
        """Images present and current (built here when not: `devnet images build` does it
        ahead of time), leftovers of an earlier run in the same folder removed, then the
        devnet's network."""
        stale = stale_images(self.client, images_for(engine))
        if stale:
            self.progress(f"images missing or out of date: {', '.join(stale)}; building them ...")
            build_images(self.client, stale, progress=self.progress)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Whatever an earlier run in this folder left (it died without `down`) is not ours.
        if remove_devnet(self.state_dir, self.client):
            self.progress("removed running containers an earlier run left in this state folder")
        (self.state_dir / DOCKER_RUN_FILE).write_text(json.dumps({"run": self.run_id, **self.labels}) + "\n")
        network = Network(docker_network_kw={"labels": dict(self.labels)})
        network.name = f"bsc-devnet-{self.run_id}"
        self.network = network.create()

    def stop(self) -> None:
        """Stop and remove every container and the network of this devnet."""
        remove_devnet(self.state_dir, self.client)

    # ---- components ---------------------------------------------------------------------------

    def start_node(self, engine: Engine, profile: BscProfile, workdir: Path) -> DockerNode:
        started = time.monotonic()
        workdir.mkdir(parents=True, exist_ok=True)
        if engine == "geth":
            datadir = workdir / "geth-data"  # initialised here, copied into the container
            _init_geth_datadir(profile, datadir, workdir / "geth.log")
            argv = geth_node_argv(
                profile,
                Path("/geth-data"),
                RPC_PORT,
                internal_ports=(GETH_INTERNAL_HTTP_PORT, GETH_AUTHRPC_PORT),
                python="python",
                host="0.0.0.0",
                geth="geth",
            )
        else:
            argv = _replace(anvil_argv(profile, RPC_PORT)[1:], "--host", "0.0.0.0")
        container = self._container(NODE_IMAGE[engine], "node", argv, RPC_PORT)
        if engine == "geth":
            container.with_copy_into_container(workdir / "geth-data", "/")
        ready = ReadyOrExited(
            self.host,
            RPC_PORT,
            lambda url: rpc_chain_id(url) == profile.chain_id,
            f"{engine} (chain id {profile.chain_id})",
            self.timeout,
        )
        url = self._start(container, "node", ready)
        return DockerNode(url, container.get_container_id(), round(time.monotonic() - started, 3))

    def start_service(self, spec: ServiceSpec, settings: dict[str, Any], env: DevnetEnv) -> ComponentEntry:
        """`settings` as the service sees the world from inside the network (node URL, other
        services' aliases); `env` is copied in as its environment file, node URL rewritten."""
        container = self._container(
            spec.image,
            spec.name,
            self.service_command(spec),
            spec.container_port,
        )
        container.with_envs(**spec.environment(settings))
        container.with_copy_into_container(self.container_env(env).encode(), CONTAINER_ENV_FILE)
        ready = ReadyOrExited(
            self.host,
            spec.container_port,
            _healthy(spec.readiness_path),
            f"{spec.name} service",
            self.timeout,
        )
        url = self._start(container, spec.name, ready)
        return ComponentEntry(url=url, container=container.get_container_id())

    def service_command(self, spec: ServiceSpec) -> list[str]:
        return spec.argv("python", "0.0.0.0", spec.container_port, "/data")

    @staticmethod
    def container_env(env: DevnetEnv) -> str:
        """env.json as a container reads it: the node and the services by their aliases."""
        inside = env.model_copy(
            update={
                "rpc_url": NODE_URL,
                "services": {
                    name: c.url if c.external else internal_url(name) for name, c in env.components.items()
                },
            }
        )
        return inside.model_dump_json(indent=2) + "\n"

    def _name(self, component: str) -> str:
        return f"bsc-devnet-{self.run_id}-{component}"

    def _container(self, image: str, component: str, command: list[str], port: int) -> DockerContainer:
        container = DockerContainer(
            image,
            name=self._name(component),
            labels={**self.labels, LABEL_COMPONENT: component, LABEL_PORT: str(port)},
            # tini as PID 1: SIGTERM reaches the program, and `docker stop` is a clean stop.
            init=True,
        )
        container.with_command(command)
        assert self.network is not None, "prepare() first"
        container.with_network(self.network).with_network_aliases(component)
        if self._local_engine:
            # Published on loopback only, on a host port chosen here: a port the engine picks is
            # picked again when the container restarts (`devnet chaos`), and env.json's URL
            # would go stale. A remote engine's host ports cannot be chosen from here.
            container.ports[str(port)] = ("127.0.0.1", free_port())  # type: ignore[assignment]
        else:
            container.with_exposed_ports(port)
        return container

    def _start(self, container: DockerContainer, component: str, strategy: ReadyOrExited) -> str:
        """Start it and wait; the host URL of its port. On failure: a StartError with the tail
        of its log (the caller stops the others)."""
        self.progress(f"{component}: starting container from {container.image} ...")
        container.waiting_for(strategy)
        try:
            self._start_on_free_port(container, component, strategy.port)
        except _ContainerExited as e:
            raise StartError(
                f"{component} exited with code {e.code} before it was ready.\n"
                f"image: {container.image}\n"
                f"--- last lines of its container log ---\n{self._tail(container)}"
            ) from e
        except TimeoutError as e:
            raise StartError(
                f"{strategy.what} was not ready after {self.timeout:.0f} s.\n"
                f"--- last lines of its container log ---\n{self._tail(container)}"
            ) from e
        return published_url(container.get_wrapped_container(), self.host, strategy.port)

    def _start_on_free_port(self, container: DockerContainer, component: str, port: int) -> None:
        """`container.start()`; when the host port chosen for it was taken in the meantime,
        the half-made container is removed and it starts again on another port."""
        from docker.errors import APIError

        for attempt in range(3):
            try:
                container.start()
                return
            except APIError as e:
                taken = "already allocated" in str(e) or "address already in use" in str(e)
                if not (taken and self._local_engine and attempt < 2):
                    raise
                self.client.containers.get(self._name(component)).remove(force=True)
                container.ports[str(port)] = ("127.0.0.1", free_port())  # type: ignore[assignment]

    def _tail(self, container: DockerContainer) -> str:
        try:
            return container_logs(container.get_container_id(), LOG_TAIL_LINES, self.client)
        except Exception as e:  # the log is a courtesy: never hide the start error behind it
            return f"(no log: {e})"


def _replace(argv: list[str], flag: str, value: str) -> list[str]:
    out = list(argv)
    out[out.index(flag) + 1] = value
    return out


# ---- from any process: logs, liveness, removal --------------------------------------------------


def container_logs(container: str, lines: int = 50, client: docker.DockerClient | None = None) -> str:
    """The last `lines` lines of a container's output (`docker logs --tail`)."""
    client = client or connect(timeout=30)
    raw: bytes = client.containers.get(container).logs(tail=lines)
    return raw.decode(errors="replace").rstrip("\n")


def container_running(container: str, client: docker.DockerClient | None = None) -> bool:
    from docker.errors import DockerException

    try:
        client = client or connect(timeout=30)
        status: str = client.containers.get(container).status
    except (DockerException, OSError, RuntimeError):
        return False
    return status == "running"


def kill_container(container: str, client: docker.DockerClient | None = None) -> None:
    """`docker kill`: SIGKILL to the container's init, and with it every process in the
    container, as a crash would; returns once the engine reports it stopped."""
    client = client or connect(timeout=60)
    target = client.containers.get(container)
    target.kill()
    target.wait(timeout=60)


def restart_container(
    container: str,
    probe: Callable[[str], bool],
    what: str,
    timeout: float = 60.0,
    client: docker.DockerClient | None = None,
) -> tuple[str, int]:
    """Start a stopped container of the devnet again (its filesystem, and so its data, kept)
    and wait until `probe(host URL)` is true; one that exits while it starts is started again
    after a pause, as a supervisor would, until `timeout`. Returns the host URL of its
    published port (the same one on a local engine: the port is pinned when the container is
    made) and the number of starts it took."""
    client = client or connect(timeout=60)
    target = client.containers.get(container)
    port = int(target.labels.get(LABEL_PORT, "0")) or _first_exposed_port(target)
    host = "127.0.0.1" if client.api.base_url.startswith("http+docker://local") else TcDockerClient().host()
    deadline = time.monotonic() + timeout
    attempts, pause = 1, 0.25
    target.start()
    while True:
        target.reload()
        if target.status in ("exited", "dead"):
            if time.monotonic() + pause > deadline:
                code = target.attrs.get("State", {}).get("ExitCode", -1)
                tail = container_logs(container, LOG_TAIL_LINES, client)
                raise StartError(
                    f"{what} exited with code {code} after its restart (start attempt {attempts}).\n"
                    f"--- last lines of its container log ---\n{tail}",
                    exit_code=int(code),
                )
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            attempts += 1
            target.start()
            continue
        url = _published_url_or_none(target, host, port) if target.status == "running" else None
        if url is not None and probe(url):
            return url, attempts
        if time.monotonic() > deadline:
            raise StartError(f"{what} was not ready {timeout:.0f} s after its restart")
        time.sleep(0.1)


def _first_exposed_port(container: Any) -> int:
    exposed = container.attrs.get("Config", {}).get("ExposedPorts") or {}
    return int(next(iter(exposed)).split("/")[0])


def remove_devnet(state_dir: Path, client: docker.DockerClient | None = None) -> bool:
    """Stop and remove every container and network labelled with `state_dir`; True if any
    container was still running. Services stop first (in parallel), then the node."""
    client = client or connect(timeout=60)
    selector = {"label": f"{LABEL_STATE}={state_label(state_dir)}"}
    containers = client.containers.list(all=True, filters=selector)
    running = any(c.status == "running" for c in containers)
    nodes = [c for c in containers if c.labels.get(LABEL_COMPONENT) == "node"]
    others = [c for c in containers if c not in nodes]
    for batch in (others, nodes):
        _remove_all(batch)
    for network in client.networks.list(filters=selector):
        network.remove()
    (state_dir / DOCKER_RUN_FILE).unlink(missing_ok=True)
    return running


def _remove_all(containers: Iterable[Any]) -> None:
    from docker.errors import NotFound

    def remove(container: Any) -> None:
        try:
            if container.status == "running":
                container.stop(timeout=STOP_TIMEOUT_S)
            container.remove(v=True, force=True)
        except NotFound:
            pass

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(remove, containers))
