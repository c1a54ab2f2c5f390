"""Bring the devnet up (node -> contracts -> services -> environment file) and take it down."""

from __future__ import annotations

import itertools
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from filelock import FileLock

from devnet.components import SERVICES, SPECS, service_settings
from devnet.core.accounts import ROLE_LAYOUT, RoleKeys
from devnet.core.chain import Chain
from devnet.core.deploy import DeployConfig, deploy_suite
from devnet.core.env import ComponentEntry, DevnetEnv, Launch, NodeEntry
from devnet.node import start_node
from devnet.node.node import rpc_chain_id
from devnet.node.process import ManagedProcess, StartError, kill_tree, pid_alive, stop_pid
from devnet.profile import BscProfile, Engine
from devnet.runtime import Runtime, has_docker_run
from devnet.services.launch import start_service

if TYPE_CHECKING:
    from devnet.runtime.docker import DockerRuntime

ENV_FILE = "env.json"
#: Held while a restart writes a component's new pid (or URL) into env.json.
ENV_LOCK_FILE = "env.json.lock"


def up(
    state_dir: Path,
    engine: Engine = "geth",
    profile: BscProfile | None = None,
    deploy_config: DeployConfig | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    resume: bool = False,
    services: Mapping[str, str | None] | None = None,
    runtime: Runtime = "local",
) -> DevnetEnv:
    """Start the node, deploy the contracts, start the services, write `<state_dir>/env.json`.

    `services` maps service name -> None (start it here) or a URL (an external one, used as it
    is); a service not named is not run. Without `services`, only the chain comes up.
    `runtime="docker"` runs the node and the services as containers (devnet/runtime/docker.py);
    the contracts are deployed from here either way, through the node's published port.
    Everything started keeps running after this returns; `down` stops it.
    """
    profile = profile or BscProfile()
    if runtime == "docker" and resume:
        raise ValueError("--resume needs the local runtime: a docker node's chain goes with its container")
    if not resume:  # a devnet starts from genesis unless asked to continue the last chain
        shutil.rmtree(state_dir / "node", ignore_errors=True)
        shutil.rmtree(state_dir / "services", ignore_errors=True)
        (state_dir / "deployment.json").unlink(missing_ok=True)
    (state_dir / ENV_FILE).unlink(missing_ok=True)
    progress(f"starting {engine} (chain id {profile.chain_id}) ...")
    # ---- docker runtime: node (and below, services) as containers ----
    docker: DockerRuntime | None = None
    if runtime == "docker":
        from devnet.runtime.docker import DockerRuntime

        docker = DockerRuntime(state_dir, progress)
        try:
            docker.prepare(engine)
            dnode = docker.start_node(engine, profile, state_dir / "node")
        except BaseException:
            docker.stop()
            raise
        rpc_url, start_seconds, stop_node = dnode.rpc_url, dnode.start_seconds, docker.stop
        node_entry = dnode.entry(engine, profile)
    # ---- local runtime ----
    else:
        node = start_node(engine, profile, state_dir / "node")
        rpc_url, start_seconds, stop_node = node.rpc_url, node.info.start_seconds, node.stop
        node_entry = NodeEntry(
            engine=engine,
            pid=node.info.pid,
            log_path=node.info.log_path,
            datadir=node.info.datadir,
            block_period_s=profile.block_period_s,
            launch=launch_of(node.process),
        )
    progress(f"{engine} ready at {rpc_url} in {start_seconds:.1f} s")
    env_path = state_dir / ENV_FILE
    try:
        chain = Chain(rpc_url, gas_price=profile.min_gas_price_wei, chain_id=profile.chain_id)
        progress("deploying KGST and USDKG (feeds, reserve policies, roles, minters) ...")
        deployment = deploy_suite(
            chain,
            RoleKeys.from_mnemonic(profile.mnemonic),
            deploy_config,
            record=state_dir / "deployment.json",
        )
        chain.close()
        env = DevnetEnv(
            chain_id=profile.chain_id,
            rpc_url=rpc_url,
            gas_price_wei=profile.min_gas_price_wei,
            mnemonic=profile.mnemonic,
            free_accounts=(ROLE_LAYOUT.first_free, profile.prefunded_accounts),
            contracts=deployment.contract_addresses(),
            deployment=deployment,
            node=node_entry,
            runtime=runtime,
        )
        env.save(env_path)  # the issuer reads the chain part of it
        if services:
            start_services(env, state_dir, services, progress, docker=docker)
            env.save(env_path)
    except BaseException:
        down(state_dir)  # the services started so far (each was recorded in the env file)
        stop_node()
        raise
    progress(f"environment written to {env_path}")
    return env


def start_services(
    env: DevnetEnv,
    state_dir: Path,
    wanted: Mapping[str, str | None],
    progress: Callable[[str], None],
    docker: DockerRuntime | None = None,
) -> None:
    """Start (or attach to) the services in dependency order, filling env.services/components.
    With `docker`, as containers that see the node and each other by network alias."""
    env.webhook_secrets = {
        s.name: f"whsec_{secrets.token_hex(16)}" for s in SERVICES if wanted.get(s.name) is None
    }
    for spec in SERVICES:
        if spec.name not in wanted:
            continue
        external = wanted[spec.name]
        if external:
            progress(f"{spec.name}: external at {external}")
            env.services[spec.name] = external
            env.components[spec.name] = ComponentEntry(url=external, external=True)
            continue
        signer = _custodian_signer(env.services.get("custodian"))
        if docker is None:
            settings = service_settings(
                spec.name,
                env,
                env.services,
                env_file=str((state_dir / ENV_FILE).resolve()),
                custodian_signer=signer,
            )
        else:  # ---- docker runtime: the world as seen from inside the network ----
            from devnet.runtime.docker import CONTAINER_ENV_FILE, NODE_URL, internal_url

            urls = {n: c.url if c.external else internal_url(n) for n, c in env.components.items()}
            settings = service_settings(
                spec.name, env, urls, env_file=CONTAINER_ENV_FILE, rpc_url=NODE_URL, custodian_signer=signer
            )
            if spec.name == "issuer":  # where the bank and the custodian call it back
                settings["public_url"] = internal_url(spec.name, spec.container_port)
        settings["webhook_secret"] = env.webhook_secrets[spec.name]
        if spec.name == "issuer":
            settings["inbound_webhook_secrets"] = {
                k: v for k, v in env.webhook_secrets.items() if k in ("bank", "custodian")
            }
        progress(f"starting {spec.name} ({spec.summary}) ...")
        if docker is None:
            handle = start_service(spec.name, state_dir / "services", settings=settings)
            entry = ComponentEntry(
                url=handle.url,
                pid=handle.process.pid,
                log_path=str(handle.process.log_path),
                launch=launch_of(handle.process),
            )
        else:
            entry = docker.start_service(spec, settings, env)
        env.services[spec.name] = entry.url
        env.components[spec.name] = entry
        env.save(state_dir / ENV_FILE)  # so a failure further on can still stop this one
        progress(f"{spec.name} ready at {entry.url}")


def _custodian_signer(url: str | None) -> str:
    if not url:
        return ""
    signer: str = httpx.get(f"{url}/info", timeout=5).json()["signer"]
    return signer


def down(state_dir: Path) -> bool:
    """Stop what `up` started (services first, then the node); False if nothing was running."""
    path = state_dir / ENV_FILE
    # ---- docker runtime: every container and network labelled with this state folder ----
    if has_docker_run(state_dir) or (path.is_file() and DevnetEnv.load(path).runtime == "docker"):
        from devnet.runtime.docker import remove_devnet

        was_running = remove_devnet(state_dir)
        path.unlink(missing_ok=True)
        return was_running
    if not path.is_file():
        return False
    env = DevnetEnv.load(path)
    pids = [c.pid for c in reversed(env.components.values()) if c.pid and not c.external]
    if env.node.pid:
        pids.append(env.node.pid)
    was_running = any(pid_alive(pid) for pid in pids)
    for pid in pids:
        stop_pid(pid)
    path.unlink(missing_ok=True)
    return was_running


def node_running(env: DevnetEnv) -> bool:
    """Whether the devnet's node still runs (a process, or a container on the docker runtime)."""
    if env.node.container:
        from devnet.runtime.docker import container_running

        return container_running(env.node.container)
    return bool(env.node.pid and pid_alive(env.node.pid))


# ---- crashes and restarts (`devnet chaos`) ---------------------------------------------------


def launch_of(process: ManagedProcess) -> Launch:
    """What a supervisor needs to start `process` again exactly as it was started."""
    return Launch(
        argv=process.argv,
        env=dict(process.env or {}),
        cwd=str(process.cwd),
        log_path=str(process.log_path.resolve()),
    )


def components(env: DevnetEnv) -> list[str]:
    """The devnet's components by name: the node first, then its services."""
    return ["node", *env.components]


def cannot_restart(env: DevnetEnv, component: str) -> str | None:
    """Why `component` cannot be killed and restarted on this devnet, or None when it can."""
    if component not in components(env):
        return f"this devnet has no {component!r}; its components are: {', '.join(components(env))}"
    if component == "node":
        if env.node.engine == "anvil":
            return (
                "the node is anvil, which keeps its chain in memory: a killed anvil comes back "
                "empty (no contracts, no balances). Kill the node on geth (`devnet up --engine geth`)"
            )
        if env.node.container or env.node.launch:
            return None
    else:
        entry = env.components[component]
        if entry.external:
            return (
                f"{component} is external ({entry.url}): the devnet did not start it, so it "
                "cannot kill or restart it"
            )
        if entry.container or entry.launch:
            return None
    return (
        f"{component}: env.json does not say how it was started (a devnet from an older version); "
        "`devnet down` and `devnet up` again"
    )


def kill(env: DevnetEnv, component: str) -> None:
    """SIGKILL `component`, as a crash would: no shutdown, no flush. Locally the whole process
    tree dies at once (the node: its consensus side and geth, its child); on docker the
    container's init and with it every process in the container (`docker kill`)."""
    reason = cannot_restart(env, component)
    if reason:
        raise ValueError(reason)
    entry = env.node if component == "node" else env.components[component]
    if entry.container:
        from devnet.runtime.docker import kill_container

        kill_container(entry.container)
    elif entry.pid:
        kill_tree(entry.pid)


@dataclass(frozen=True)
class Started:
    pid: int
    #: How many starts it took (more than 1: it exited while starting and was started again).
    attempts: int


@dataclass(frozen=True)
class Restarted:
    #: env.json after the restart (the component's new pid, or a changed URL).
    env: DevnetEnv
    attempts: int


def restart(state_dir: Path, component: str, timeout: float = 60.0) -> Restarted:
    """Start a killed (or crashed) component again the way a supervisor would and wait until it
    is ready: locally the same command, environment, folder and log, so the same port and
    data (the node resumes its chain from its datadir); on docker the same container. One
    that exits while it starts (e.g. a service whose dependency is down) is started again,
    with a pause, until `timeout`. The new pid (or a changed URL) is written to env.json."""
    path = state_dir / ENV_FILE
    env = DevnetEnv.load(path)
    reason = cannot_restart(env, component)
    if reason:
        raise ValueError(reason)
    if component == "node":
        entry: NodeEntry | ComponentEntry = env.node
        url = env.rpc_url
        probe: Callable[[str], bool] = lambda u: rpc_chain_id(u) == env.chain_id  # noqa: E731
    else:
        entry = env.components[component]
        url = entry.url
        probe = _healthy_at(SPECS[component].readiness_path)
    if entry.container:
        from devnet.runtime.docker import restart_container

        url, attempts = restart_container(entry.container, probe, component, timeout)
        pid = None
    else:
        assert entry.launch is not None
        started = _start_again(component, entry.launch, lambda: probe(url), timeout)
        pid, attempts = started.pid, started.attempts
    # Other components may restart at the same time: read, change and write under a lock.
    with FileLock(state_dir / ENV_LOCK_FILE):
        env = DevnetEnv.load(path)
        if component == "node":
            env.rpc_url, env.node.pid = url, pid or env.node.pid
        else:
            env.components[component].url = env.services[component] = url
            env.components[component].pid = pid or env.components[component].pid
        env.save(path)
    return Restarted(env, attempts)


#: A component that exits while it starts (a dependency down, its port still held a moment)
#: is started again after this pause, doubling up to `RETRY_MAX_S`, as a supervisor does
#: (systemd's Restart=always), until the restart's timeout.
RETRY_FIRST_S, RETRY_MAX_S = 0.25, 2.0


def _start_again(name: str, launch: Launch, ready: Callable[[], bool], timeout: float) -> Started:
    deadline = time.monotonic() + timeout
    pause = RETRY_FIRST_S
    for attempt in itertools.count(1):
        process = ManagedProcess(
            name, launch.argv, Path(launch.log_path), env=launch.env, cwd=Path(launch.cwd)
        )
        try:
            process.start(ready=ready, timeout=max(1.0, deadline - time.monotonic()))
        except BaseException as e:
            if not isinstance(e, StartError):  # interrupted: leave nothing running unrecorded
                process.stop()
                raise
            if e.exit_code is None or time.monotonic() + pause > deadline:
                raise StartError(f"{e} (start attempt {attempt})", e.exit_code) from e
            time.sleep(pause)
            pause = min(pause * 2, RETRY_MAX_S)
            continue
        return Started(process.pid, attempt)
    raise AssertionError("unreachable")


def _healthy_at(path: str) -> Callable[[str], bool]:
    def probe(url: str) -> bool:
        try:
            return httpx.get(f"{url}{path}", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return probe
