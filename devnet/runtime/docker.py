"""The docker runtime: every component a container on one Docker network (testcontainers).

- One network per devnet (`bsc-devnet-<run>`); each component answers there by its name (the
  node as `node:8545`, each service as `<name>:8000`). Their ports are also published on the
  host (loopback only when the engine is local), and env.json holds the host URLs.
- A component's command is its definition's for a container (`Placement.in_container`):
  the image's programs and folders. What it needs from the host is copied in before it
  starts (`put archive`, not a bind mount: a remote engine (DOCKER_HOST) cannot see host
  folders): the geth datadir, made on the host exactly as for the local runtime
  (`devnet.node.node.init_geth_datadir`), and a service's own copy of env.json at
  `/devnet/env.json` with the in-network node URL.
- Readiness: the component's own check (`devnet.runtime.readiness`) at the published port;
  a container that exits fails the wait at once, with its log tail.
- Cleanup is explicit (no Ryuk reaper: there is no registry to pull it from): everything is
  labelled with the run id and the state folder, and `stop` removes every container and
  network with that label, after a failed start, on `devnet down`, and at the end of a
  pytest session.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Ryuk (testcontainers' reaper) is an image pulled from a registry; there is none. Must be set
# before testcontainers reads its configuration.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

from testcontainers.core.container import DockerContainer
from testcontainers.core.docker_client import DockerClient as TcDockerClient
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget

from devnet.core.env import DevnetEnv
from devnet.node.process import StartError, free_port
from devnet.profile import Engine
from devnet.runtime import DOCKER_RUN_FILE, LABEL_PREFIX, RuntimeName
from devnet.runtime.base import (
    Back,
    Component,
    CopyIn,
    Entry,
    Placement,
    Progress,
    Reach,
    Runtime,
    Started,
    Status,
    where,
)
from devnet.runtime.engine import connect
from devnet.runtime.images import build_images, images_for, stale_images
from devnet.runtime.readiness import Probe, Readiness

if TYPE_CHECKING:
    import docker

LABEL_RUN = f"{LABEL_PREFIX}.run"
LABEL_STATE = f"{LABEL_PREFIX}.state-dir"
LABEL_COMPONENT = f"{LABEL_PREFIX}.component"
#: The container port the component serves on (its readiness check's port).
LABEL_PORT = f"{LABEL_PREFIX}.port"
#: The node's network alias (a component's alias is its name).
NODE_ALIAS = "node"
#: Where a service container finds the devnet's environment file (the issuer reads it).
CONTAINER_ENV_FILE = "/devnet/env.json"
LOG_TAIL_LINES = 30
#: Pause between readiness checks while a container starts.
POLL_S = 0.1
STOP_TIMEOUT_S = 10
#: A container that exits while it restarts is started again after this pause, doubling up
#: to `RETRY_MAX_S`, until the restart's timeout.
RETRY_FIRST_S, RETRY_MAX_S = 0.25, 2.0


def state_label(state_dir: Path) -> str:
    """The label value naming one devnet: this host and its state folder."""
    return f"{socket.gethostname()}:{state_dir.resolve()}"


def internal_url(name: str, port: int) -> str:
    """A component as the other containers on the devnet's network reach it."""
    return f"http://{name}:{port}"


def container_reach(env: DevnetEnv, inside: Mapping[str, str], component: str, port: int) -> Reach:
    """The devnet as a container on its network reaches it: the node and the services at their
    aliases (`inside`: name -> in-network URL of each component started), an external service
    at its own URL, and env.json copied in with those URLs."""
    services = {name: c.url if c.external else inside[name] for name, c in env.components.items()}
    seen = env.model_copy(update={"rpc_url": inside[NODE_ALIAS], "services": services})
    return Reach(
        rpc_url=inside[NODE_ALIAS],
        services=services,
        env_file=CONTAINER_ENV_FILE,
        public_url=internal_url(component, port),
        files=(CopyIn((seen.model_dump_json(indent=2) + "\n").encode(), CONTAINER_ENV_FILE),),
    )


class _ContainerExited(Exception):
    def __init__(self, code: int):
        super().__init__(f"exited with code {code}")
        self.code = code


class ReadyOrExited(WaitStrategy):
    """Ready when `readiness` passes at the host URL of `port`; fails at once if the container
    exits. On a timeout the TimeoutError says what was waited for and the last answer."""

    def __init__(self, host: str, port: int, readiness: Readiness) -> None:
        super().__init__()
        self.with_startup_timeout(int(readiness.timeout_s)).with_poll_interval(POLL_S)
        self.host = host
        self.port = port
        self.readiness = readiness

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        deadline = time.monotonic() + self._startup_timeout
        probe: Probe | None = None
        while True:
            container.reload()
            status = container.status
            if status in ("exited", "dead"):
                state = container.get_wrapped_container().attrs.get("State", {})
                raise _ContainerExited(int(state.get("ExitCode", -1)))
            if status == "running" and probe is None:
                # None when the process exited after the status read (the engine then
                # unpublishes its ports): the next reload sees the exit and its code.
                url = _published_url_or_none(container.get_wrapped_container(), self.host, self.port)
                probe = Probe(self.readiness, url) if url is not None else None
            if probe is not None and probe():
                return
            if time.monotonic() > deadline:
                waited = probe.waited_for() if probe else f"port {self.port} to be published"
                raise TimeoutError(
                    f"{self.readiness.what} was not ready after {self._startup_timeout:.0f} s: "
                    f"waited for {waited}"
                )
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


class DockerRuntime(Runtime):
    """The components of a devnet as containers; `prepare` first (images, network), `stop`
    removes all of them. Operations on a running component (status, logs, kill, restart) need
    only its env.json entry, so any process can do them."""

    name: RuntimeName = "docker"
    cannot_resume = "--resume needs the local runtime: a docker node's chain goes with its container"

    def __init__(self, progress: Progress = lambda _m: None):
        self.progress = progress
        self.run_id = secrets.token_hex(4)
        self.labels: dict[str, str] = {}
        self.network: Network | None = None
        #: name -> in-network URL of each component started (its alias and container port).
        self.inside: dict[str, str] = {}

    @cached_property
    def client(self) -> docker.DockerClient:
        """The engine (connected on first use: `status` of a devnet whose engine is gone is
        "not running", not an error)."""
        return connect()

    @cached_property
    def _local_engine(self) -> bool:
        return bool(self.client.api.base_url.startswith("http+docker://local"))

    @cached_property
    def host(self) -> str:
        """Where published ports answer: this machine for a local engine (its socket), else
        the engine's host (DOCKER_HOST; TESTCONTAINERS_HOST_OVERRIDE overrides it)."""
        return "127.0.0.1" if self._local_engine else TcDockerClient().host()

    # ---- a devnet ---------------------------------------------------------------------------

    def prepare(self, state_dir: Path, engine: Engine) -> None:
        """Images present and current (built here when not: `devnet images build` does it
        ahead of time), leftovers of an earlier run in the same folder removed, then the
        devnet's network."""
        stale = stale_images(self.client, images_for(engine))
        if stale:
            self.progress(f"images missing or out of date: {', '.join(stale)}; building them ...")
            build_images(self.client, stale, progress=self.progress)
        state_dir.mkdir(parents=True, exist_ok=True)
        # Whatever an earlier run in this folder left (it died without `down`) is not ours.
        if remove_devnet(state_dir, self.client):
            self.progress("removed running containers an earlier run left in this state folder")
        self.labels = {LABEL_RUN: self.run_id, LABEL_STATE: state_label(state_dir)}
        (state_dir / DOCKER_RUN_FILE).write_text(json.dumps({"run": self.run_id, **self.labels}) + "\n")
        network = Network(docker_network_kw={"labels": dict(self.labels)})
        network.name = f"bsc-devnet-{self.run_id}"
        self.network = network.create()

    def reach(self, env: DevnetEnv, env_file: Path, component: str, port: int) -> Reach:
        return container_reach(env, self.inside, component, port)

    def start(self, component: Component) -> Started:
        started = time.monotonic()
        if component.prepare is not None:
            component.prepare()
        place = Placement(host="0.0.0.0", port=component.port, python="python", in_container=True)
        container = self._container(component.image, component.name, component.argv(place), component.port)
        if component.environment:
            container.with_envs(**component.environment)
        for item in component.files:
            container.with_copy_into_container(item.source, item.destination)
        url = self._start(
            container, component.name, ReadyOrExited(self.host, component.port, component.readiness)
        )
        self.inside[component.name] = internal_url(component.name, component.port)
        if component.after_ready is not None:
            component.after_ready(url)
        return Started(
            url=url, container=container.get_container_id(), seconds=round(time.monotonic() - started, 3)
        )

    def stop(self, state_dir: Path, env: DevnetEnv | None) -> bool:
        """Stop and remove every container and network labelled with `state_dir`."""
        return remove_devnet(state_dir, self.client)

    # ---- a running component ----------------------------------------------------------------

    def status(self, entry: Entry) -> Status:
        return Status(running=self._running(_container(entry)), where=where(entry))

    def _running(self, container: str) -> bool:
        from docker.errors import DockerException

        try:
            status: str = self.client.containers.get(container).status
        except (DockerException, OSError, RuntimeError):
            return False
        return status == "running"

    def logs(self, entry: Entry, lines: int) -> str:
        """`docker logs --tail`."""
        return container_logs(_container(entry), lines, self.client)

    def kill(self, entry: Entry) -> None:
        """`docker kill`: SIGKILL to the container's init, and with it every process in the
        container, as a crash would; returns once the engine reports it stopped."""
        target = self.client.containers.get(_container(entry))
        target.kill()
        target.wait(timeout=60)

    def restart(self, name: str, entry: Entry, url: str, readiness: Readiness) -> Back:
        """The same container (its filesystem, and so its data, kept), on the same host port
        on a local engine (the port is pinned when the container is made)."""
        target = self.client.containers.get(_container(entry))
        port = int(target.labels.get(LABEL_PORT, "0")) or _first_exposed_port(target)
        deadline = time.monotonic() + readiness.timeout_s
        attempts, pause = 1, RETRY_FIRST_S
        probe: Probe | None = None
        target.start()
        while True:
            target.reload()
            if target.status in ("exited", "dead"):
                if time.monotonic() + pause > deadline:
                    code = target.attrs.get("State", {}).get("ExitCode", -1)
                    raise StartError(
                        f"{name} exited with code {code} after its restart (start attempt {attempts}).\n"
                        f"--- last lines of its container log ---\n{self._tail(target.id)}",
                        exit_code=int(code),
                    )
                time.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)
                attempts += 1
                probe = None
                target.start()
                continue
            if probe is None and target.status == "running":
                published = _published_url_or_none(target, self.host, port)
                probe = Probe(readiness, published) if published is not None else None
            if probe is not None and probe():
                return Back(url=probe.url, pid=None, attempts=attempts)
            if time.monotonic() > deadline:
                waited = probe.waited_for() if probe else f"port {port} to be published"
                raise StartError(
                    f"{readiness.what} was not ready {readiness.timeout_s:.0f} s after its restart: "
                    f"waited for {waited}.\n--- last lines of its container log ---\n{self._tail(target.id)}"
                )
            time.sleep(POLL_S)

    # ---- containers -------------------------------------------------------------------------

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
                f"--- last lines of its container log ---\n{self._tail(container.get_container_id())}"
            ) from e
        except TimeoutError as e:
            raise StartError(
                f"{e}.\n--- last lines of its container log ---\n{self._tail(container.get_container_id())}"
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

    def _tail(self, container: str) -> str:
        try:
            return container_logs(container, LOG_TAIL_LINES, self.client)
        except Exception as e:  # the log is a courtesy: never hide the start error behind it
            return f"(no log: {e})"


# ---- from any process: logs, removal ----------------------------------------------------------


def container_logs(container: str, lines: int, client: docker.DockerClient) -> str:
    """The last `lines` lines of a container's output (`docker logs --tail`)."""
    raw: bytes = client.containers.get(container).logs(tail=lines)
    return raw.decode(errors="replace").rstrip("\n")


def _container(entry: Entry) -> str:
    if entry.container is None:
        raise ValueError("this component is not a container (env.json names no container for it)")
    return entry.container


def _first_exposed_port(container: Any) -> int:
    exposed = container.attrs.get("Config", {}).get("ExposedPorts") or {}
    return int(next(iter(exposed)).split("/")[0])


def remove_devnet(state_dir: Path, client: docker.DockerClient) -> bool:
    """Stop and remove every container and network labelled with `state_dir`; True if any
    container was still running. Services stop first (in parallel), then the node."""
    selector = {"label": f"{LABEL_STATE}={state_label(state_dir)}"}
    containers = client.containers.list(all=True, filters=selector)
    running = any(c.status == "running" for c in containers)
    nodes = [c for c in containers if c.labels.get(LABEL_COMPONENT) == NODE_ALIAS]
    others = [c for c in containers if c not in nodes]
    for batch in (others, nodes):
        _remove_all(batch)
    for network in client.networks.list(filters=selector):
        network.remove()
    (state_dir / DOCKER_RUN_FILE).unlink(missing_ok=True)
    return running


def _remove_all(containers: list[Any]) -> None:
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
