"""Bring the devnet up (node -> contracts -> services -> environment file), watch it, take it
down, and restart its components, on either runtime: everything here goes through the
`Runtime` interface (`devnet.runtime.base`), chosen once (`open_runtime`) from the config for
`up`, and from env.json (`runtime`) for everything after it."""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from filelock import FileLock

from devnet.components import (
    SERVICES,
    SPECS,
    NodeInput,
    Wiring,
    node_component,
    node_entry,
    node_readiness,
    service_entry,
)
from devnet.core.accounts import ROLE_LAYOUT, RoleKeys
from devnet.core.chain import Chain
from devnet.core.deploy import DeployConfig, deploy_suite
from devnet.core.env import ComponentEntry, DevnetEnv
from devnet.core.wait import wait_until
from devnet.core.wallets import Wallet
from devnet.node.node import remove_anvil_states
from devnet.node.process import StartError, log_tail
from devnet.profile import DEFAULT_ENGINE, BscProfile, Engine
from devnet.runtime import RuntimeName, has_docker_run, open_runtime
from devnet.runtime.base import Entry, Runtime, where
from devnet.runtime.readiness import Check, Readiness

ENV_FILE = "env.json"
#: Held while a restart writes a component's new pid (or URL) into env.json.
ENV_LOCK_FILE = "env.json.lock"


def up(
    state_dir: Path,
    engine: Engine = DEFAULT_ENGINE,
    profile: BscProfile | None = None,
    deploy_config: DeployConfig | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    resume: bool = False,
    services: Mapping[str, str | None] | None = None,
    runtime: RuntimeName = "local",
) -> DevnetEnv:
    """Start the node, deploy the contracts, start the services, write `<state_dir>/env.json`.

    `services` maps service name -> None (start it here) or a URL (an external one, used as it
    is); a service not named is not run. Without `services`, only the chain comes up.
    `runtime="docker"` runs the node and the services as containers (devnet/runtime/docker.py);
    the contracts are deployed from here either way, through the node's (host) URL.
    Everything started keeps running after this returns; `down` stops it. On a failure,
    everything started so far is stopped.
    """
    profile = profile or BscProfile()
    conflict = profile.engine_conflict(engine)
    if conflict:
        raise ValueError(conflict)
    rt = open_runtime(runtime, progress)
    if resume and rt.cannot_resume:
        raise ValueError(rt.cannot_resume)
    if not resume:  # a devnet starts from genesis unless asked to continue the last chain
        shutil.rmtree(state_dir / "node", ignore_errors=True)
        shutil.rmtree(state_dir / "services", ignore_errors=True)
        (state_dir / "deployment.json").unlink(missing_ok=True)
    env_path = state_dir / ENV_FILE
    env_path.unlink(missing_ok=True)
    progress(f"starting {engine} (chain id {profile.chain_id}) ...")
    node_log: str | None = None
    chain: Chain | None = None  # deploys, then (bsc) waits for finality
    try:
        rt.prepare(state_dir, engine)
        node = NodeInput(engine=engine, profile=profile, workdir=state_dir / "node")
        started = rt.start(node_component(node))
        node_log = started.log_path
        Wallet.forget_node(started.url)
        progress(f"{engine} ready at {started.url} in {started.seconds:.1f} s")
        chain = Chain(started.url, gas_price=profile.min_gas_price_wei, chain_id=profile.chain_id)
        progress("deploying KGST and USDKG (feeds, reserve policies, roles, minters) ...")
        deployment = deploy_suite(
            chain,
            RoleKeys.from_mnemonic(profile.mnemonic),
            deploy_config,
            record=state_dir / "deployment.json",
        )
        env = DevnetEnv(
            chain_id=profile.chain_id,
            rpc_url=started.url,
            gas_price_wei=profile.min_gas_price_wei,
            mnemonic=profile.mnemonic,
            free_accounts=(ROLE_LAYOUT.first_free, profile.prefunded_accounts),
            contracts=deployment.contract_addresses(),
            deployment=deployment,
            node=node_entry(node, started),
            runtime=rt.name,
        )
        env.save(env_path)  # the issuer reads the chain part of it
        if services:
            start_services(env, state_dir, services, progress, rt)
            env.save(env_path)
        if engine == "bsc":
            _await_finality(chain, progress)
    except BaseException as e:
        if node_log is not None and isinstance(e, Exception) and not isinstance(e, StartError):
            # e.g. a deployment that got no receipt: what the node said, before a new start
            # of this folder replaces its log
            e.add_note(f"the node's log ({node_log}) ended with:\n{log_tail(Path(node_log), 40)}")
        rt.stop(state_dir, None)  # everything it started, recorded in env.json or not yet
        remove_anvil_states(state_dir / "node")
        env_path.unlink(missing_ok=True)
        raise
    finally:
        if chain is not None:
            chain.close()
    progress(f"environment written to {env_path}")
    return env


#: How far `finalized` may trail the head once bsc's votes flow (0-2 blocks, median 1, here).
FINALITY_LAG_READY = 3
#: Votes begin 40 blocks (18 s) after a validator starts sealing; several validators start one
#: after the other.
FINALITY_TIMEOUT_S = 180.0


def _await_finality(chain: Chain, progress: Callable[[str], None]) -> None:
    """Ready on bsc means final blocks: its vote manager waits 40 blocks after a validator starts
    sealing, and until then `finalized` stays at 0 (or, resumed, where it was), so everything
    that books money on finality would wait that long for its first booking."""
    started = time.monotonic()
    progress("waiting for fast finality (bsc votes from 40 blocks after sealing starts) ...")
    head = finalized = 0

    def finalizing() -> bool:
        nonlocal head, finalized
        head = chain.block_number()
        finalized = int(chain.get_block("finalized")["number"], 16)
        return finalized > 0 and head - finalized <= FINALITY_LAG_READY

    try:
        wait_until(finalizing, FINALITY_TIMEOUT_S, "finality", interval=0.2)
    except TimeoutError:
        raise StartError(
            f"bsc sealed up to block {head} but finalized only block {finalized} after "
            f"{FINALITY_TIMEOUT_S:g} s: its validators do not vote (see the node's log)"
        ) from None
    progress(f"finalized block {finalized} at head {head} after {time.monotonic() - started:.1f} s")


def start_services(
    env: DevnetEnv,
    state_dir: Path,
    wanted: Mapping[str, str | None],
    progress: Callable[[str], None],
    runtime: Runtime,
) -> None:
    """Start (or attach to) the services in dependency order on `runtime`, filling
    env.services/components; each one's settings are its spec's wiring of the world as it
    reaches it from where the runtime puts it."""
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
        reach = runtime.reach(env, state_dir / ENV_FILE, spec.name, spec.container_port)
        settings = spec.wire(Wiring(env, reach, _custodian_signer(env.services.get("custodian"))))
        progress(f"starting {spec.name} ({spec.summary}) ...")
        entry = service_entry(runtime.start(spec.component(settings, state_dir / "services", reach.files)))
        env.services[spec.name] = entry.url
        env.components[spec.name] = entry
        env.save(state_dir / ENV_FILE)  # so a failure further on can still stop this one
        progress(f"{spec.name} ready at {entry.url}")


def _custodian_signer(url: str | None) -> str:
    if not url:
        return ""
    signer: str = httpx.get(f"{url}/info", timeout=5).json()["signer"]
    return signer


def runtime_of(env: DevnetEnv) -> Runtime:
    """The runtime a running devnet was started on (env.json says which)."""
    return open_runtime("docker" if env.runtime == "docker" else "local")


def down(state_dir: Path) -> bool:
    """Stop what `up` started (services first, then the node); False if nothing was running.
    A docker devnet is found by its containers' labels, even one whose start died before
    env.json was written."""
    path = state_dir / ENV_FILE
    env = DevnetEnv.load(path) if path.is_file() else None
    docker = has_docker_run(state_dir) or (env is not None and env.runtime == "docker")
    if env is None and not docker:
        return False
    was_running = open_runtime("docker" if docker else "local").stop(state_dir, env)
    remove_anvil_states(state_dir / "node")  # a stopped anvil's chain is gone (only anvil has them)
    path.unlink(missing_ok=True)
    return was_running


# ---- watching -------------------------------------------------------------------------------


def components(env: DevnetEnv) -> list[str]:
    """The devnet's components by name: the node first, then its services."""
    return ["node", *env.components]


def _component(env: DevnetEnv, name: str) -> tuple[Entry, str, Readiness]:
    """A component's env.json entry, its (host) URL and its readiness check."""
    if name == "node":
        return env.node, env.rpc_url, node_readiness(env.node.engine, env.chain_id)
    entry = env.components[name]
    return entry, entry.url, SPECS[name].readiness


def node_running(env: DevnetEnv) -> bool:
    """Whether the devnet's node still runs (a process, or a container on the docker runtime)."""
    return runtime_of(env).status(env.node).running


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    url: str
    #: "pid 123", "container 0123456789ab", or "external".
    where: str
    #: Its process or container runs; None for an external one (not the devnet's to see).
    running: bool | None
    #: Its readiness check, now.
    check: Check


def status(env: DevnetEnv) -> list[ComponentStatus]:
    """Every component (the node first): where it runs, whether it runs, whether it is ready."""
    rt = runtime_of(env)
    out = []
    for name in components(env):
        entry, url, readiness = _component(env, name)
        external = isinstance(entry, ComponentEntry) and entry.external
        out.append(
            ComponentStatus(
                name=name,
                url=url,
                where="external" if external else where(entry),
                running=None if external else rt.status(entry).running,
                check=rt.ready(url, readiness),
            )
        )
    return out


def logs(env: DevnetEnv, component: str, lines: int) -> str:
    """The last `lines` lines of a component's log (its file, or its container's output)."""
    entry, _, _ = _component(env, component)
    return runtime_of(env).logs(entry, lines)


# ---- crashes and restarts (`devnet chaos`) ---------------------------------------------------


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
    entry, _, _ = _component(env, component)
    runtime_of(env).kill(entry)


@dataclass(frozen=True)
class Restarted:
    #: env.json after the restart (the component's new pid, or a changed URL).
    env: DevnetEnv
    #: How many starts it took (more than 1: it exited while starting and was started again).
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
    entry, url, readiness = _component(env, component)
    back = runtime_of(env).restart(component, entry, url, readiness.model_copy(update={"timeout_s": timeout}))
    # Other components may restart at the same time: read, change and write under a lock.
    with FileLock(state_dir / ENV_LOCK_FILE):
        env = DevnetEnv.load(path)
        if component == "node":
            env.rpc_url, env.node.pid = back.url, back.pid or env.node.pid
            Wallet.forget_node(back.url)
        else:
            env.components[component].url = env.services[component] = back.url
            env.components[component].pid = back.pid or env.components[component].pid
        env.save(path)
    return Restarted(env, back.attempts)
