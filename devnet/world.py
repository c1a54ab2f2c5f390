"""Bring the devnet up (node -> contracts -> environment file) and take it down."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from devnet.node import start_node
from devnet.node.process import pid_alive, stop_pid
from devnet.profile import BscProfile, Engine
from harness.accounts import ROLE_LAYOUT, RoleKeys
from harness.chain import Chain
from harness.deploy import DeployConfig, deploy_suite
from harness.env import DevnetEnv, NodeEntry

ENV_FILE = "env.json"


def up(
    state_dir: Path,
    engine: Engine = "geth",
    profile: BscProfile | None = None,
    deploy_config: DeployConfig | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    resume: bool = False,
) -> DevnetEnv:
    """Start the node, deploy the contracts and write `<state_dir>/env.json`.

    The node keeps running after this returns (it is in its own session); `down` stops it.
    """
    profile = profile or BscProfile()
    if not resume:  # a devnet starts from genesis unless asked to continue the last chain
        shutil.rmtree(state_dir / "node", ignore_errors=True)
        (state_dir / "deployment.json").unlink(missing_ok=True)
    progress(f"starting {engine} (chain id {profile.chain_id}) ...")
    node = start_node(engine, profile, state_dir / "node")
    progress(f"{engine} ready at {node.rpc_url} in {node.info.start_seconds:.1f} s")
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
        env.save(state_dir / ENV_FILE)
    except BaseException:
        node.stop()
        raise
    progress(f"environment written to {state_dir / ENV_FILE}")
    return env


def down(state_dir: Path) -> bool:
    """Stop what `up` started; False if nothing was running."""
    path = state_dir / ENV_FILE
    if not path.is_file():
        return False
    env = DevnetEnv.load(path)
    was_running = env.node.pid is not None and pid_alive(env.node.pid)
    if env.node.pid is not None:
        stop_pid(env.node.pid)
    path.unlink()
    return was_running
