"""Bring the devnet up (node -> contracts -> services -> environment file) and take it down."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from devnet.components import SERVICES, service_settings
from devnet.node import start_node
from devnet.node.process import pid_alive, stop_pid
from devnet.profile import BscProfile, Engine
from devnet.services.launch import start_service
from harness.accounts import ROLE_LAYOUT, RoleKeys
from harness.chain import Chain
from harness.deploy import DeployConfig, deploy_suite
from harness.env import ComponentEntry, DevnetEnv, NodeEntry

ENV_FILE = "env.json"


def up(
    state_dir: Path,
    engine: Engine = "geth",
    profile: BscProfile | None = None,
    deploy_config: DeployConfig | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    resume: bool = False,
    services: Mapping[str, str | None] | None = None,
) -> DevnetEnv:
    """Start the node, deploy the contracts, start the services, write `<state_dir>/env.json`.

    `services` maps service name -> None (start it here) or a URL (an external one, used as it
    is); a service not named is not run. Without `services`, only the chain comes up.
    Everything started keeps running after this returns; `down` stops it.
    """
    profile = profile or BscProfile()
    if not resume:  # a devnet starts from genesis unless asked to continue the last chain
        shutil.rmtree(state_dir / "node", ignore_errors=True)
        shutil.rmtree(state_dir / "services", ignore_errors=True)
        (state_dir / "deployment.json").unlink(missing_ok=True)
    (state_dir / ENV_FILE).unlink(missing_ok=True)
    progress(f"starting {engine} (chain id {profile.chain_id}) ...")
    node = start_node(engine, profile, state_dir / "node")
    progress(f"{engine} ready at {node.rpc_url} in {node.info.start_seconds:.1f} s")
    env_path = state_dir / ENV_FILE
    try:
        chain = Chain(node.rpc_url, gas_price=profile.min_gas_price_wei, chain_id=profile.chain_id)
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
            rpc_url=node.rpc_url,
            gas_price_wei=profile.min_gas_price_wei,
            mnemonic=profile.mnemonic,
            free_accounts=(ROLE_LAYOUT.first_free, profile.prefunded_accounts),
            contracts=deployment.contract_addresses(),
            deployment=deployment,
            node=NodeEntry(
                engine=engine,
                pid=node.info.pid,
                log_path=node.info.log_path,
                datadir=node.info.datadir,
                block_period_s=profile.block_period_s,
            ),
        )
        env.save(env_path)  # the issuer reads the chain part of it
        if services:
            start_services(env, state_dir, services, progress)
            env.save(env_path)
    except BaseException:
        down(state_dir)  # the services started so far (each was recorded in the env file)
        node.stop()
        raise
    progress(f"environment written to {env_path}")
    return env


def start_services(
    env: DevnetEnv, state_dir: Path, wanted: Mapping[str, str | None], progress: Callable[[str], None]
) -> None:
    """Start (or attach to) the services in dependency order, filling env.services/components."""
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
        settings = service_settings(
            spec.name,
            env,
            env.services,
            env_file=str((state_dir / ENV_FILE).resolve()),
            custodian_signer=_custodian_signer(env.services.get("custodian")),
        )
        settings["webhook_secret"] = env.webhook_secrets[spec.name]
        if spec.name == "issuer":
            settings["inbound_webhook_secrets"] = {
                k: v for k, v in env.webhook_secrets.items() if k in ("bank", "custodian")
            }
        progress(f"starting {spec.name} ({spec.summary}) ...")
        handle = start_service(spec.name, state_dir / "services", settings=settings)
        env.services[spec.name] = handle.url
        env.components[spec.name] = ComponentEntry(
            url=handle.url, pid=handle.process.pid, log_path=str(handle.process.log_path)
        )
        env.save(state_dir / ENV_FILE)  # so a failure further on can still stop this one
        progress(f"{spec.name} ready at {handle.url}")


def _custodian_signer(url: str | None) -> str:
    if not url:
        return ""
    signer: str = httpx.get(f"{url}/info", timeout=5).json()["signer"]
    return signer


def down(state_dir: Path) -> bool:
    """Stop what `up` started (services first, then the node); False if nothing was running."""
    path = state_dir / ENV_FILE
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
