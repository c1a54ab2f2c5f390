"""The node's command lines (geth under its consensus side, or anvil), its datadir, and
`start_node`: one node as a child process (the local runtime), for tests and tools that need a
chain and nothing else. The node as a devnet component is `devnet.components.node_component`.
The bsc engine's datadir and command line are in `devnet.node.bsc`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from pydantic import BaseModel

from devnet.consensus.engine_api import write_jwt_secret
from devnet.core.wallets import Wallet
from devnet.genesis import build_genesis, geth_dev_genesis
from devnet.node.process import ManagedProcess, free_port, init_chain, pid_alive, stop_pid
from devnet.profile import BscProfile, Engine
from devnet.tools import anvil_path, geth_path

#: The Engine API's shared secret, kept in geth's datadir (copied into a container with it).
JWT_SECRET_FILE = "jwt.hex"

#: How geth stores the chain so that a crash (SIGKILL, OOM kill) loses nothing it had sealed.
#: geth's defaults (pebble, path scheme) lose it: pebble writes asynchronously ("risks losing
#: recent writes if the application crashes", geth's ethdb/pebble/pebble.go) and the path
#: scheme keeps recent state in memory until a clean shutdown journals it, so after a SIGKILL
#: geth finds the head state missing and rewinds; measured on v1.17.4: back to genesis, the
#: finalized blocks and the deployment with it. With goleveldb every write reaches the file
#: before it returns (its journal is flushed per batch), and the hash scheme in archive mode
#: commits each block's state, so a killed geth restarts at the same head hash.
#: `geth init` takes the same database and scheme flags.
#: geth's log search index (core/filtermaps) is not crash-safe in the same way: after a SIGKILL
#: it can claim a block the chain no longer has as indexed, and `eth_getLogs` up to `latest`
#: then fails with "failed to retrieve log value pointer of block N: leveldb: not found"
#: (seen in `devnet chaos` on v1.17.4). Without the index geth searches by each header's bloom
#: filter, which answers the same logs and is quick at a devnet's chain lengths.
CRASH_SAFE_STORAGE = ("--db.engine", "leveldb", "--state.scheme", "hash")
CRASH_SAFE_GETH = (*CRASH_SAFE_STORAGE, "--gcmode", "archive", "--history.logs.disable")


class NodeInfo(BaseModel):
    """What a running node looks like from outside: enough to attach to it or stop it."""

    engine: Engine
    chain_id: int
    rpc_url: str
    pid: int
    log_path: str
    datadir: str | None = None
    argv: list[str]
    start_seconds: float

    def alive(self) -> bool:
        return pid_alive(self.pid)

    def stop(self) -> None:
        stop_pid(self.pid)


class NodeHandle:
    """A node started by this process."""

    def __init__(self, info: NodeInfo, process: ManagedProcess, workdir: Path | None = None):
        self.info = info
        self.process = process
        #: An anvil's workdir, emptied of its spilled states at the stop.
        self._anvil_workdir = workdir if info.engine == "anvil" else None

    @property
    def rpc_url(self) -> str:
        return self.info.rpc_url

    def stop(self) -> None:
        self.process.stop()
        if self._anvil_workdir is not None:
            remove_anvil_states(self._anvil_workdir)

    def __enter__(self) -> NodeHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def geth_argv(
    profile: BscProfile,
    datadir: Path,
    http_port: int,
    authrpc_port: int,
    jwt_secret: Path,
    geth: str | None = None,
) -> list[str]:
    """geth itself: no `--dev`; its blocks come through the Engine API from `devnet.consensus`.
    Both ports listen on loopback only: the consensus front is the node's public face.
    `geth`: the program (default: the pinned one built on this machine)."""
    return [
        geth or str(geth_path()),
        "--datadir",
        str(datadir),
        "--networkid",
        str(profile.chain_id),
        "--syncmode",
        "full",
        *CRASH_SAFE_GETH,
        "--http",
        "--http.addr",
        "127.0.0.1",
        "--http.port",
        str(http_port),
        "--http.api",
        "eth,net,web3,txpool,debug",
        "--http.vhosts",
        "*",
        "--authrpc.addr",
        "127.0.0.1",
        "--authrpc.port",
        str(authrpc_port),
        "--authrpc.jwtsecret",
        str(jwt_secret),
        # No peers, no p2p port clash between parallel nodes.
        "--nodiscover",
        "--maxpeers",
        "0",
        "--port",
        "0",
        "--ipcdisable",
        "--cache",
        str(profile.geth_cache_mb),
        *profile.pool_and_price_flags(),
        "--verbosity",
        "3",
    ]


def consensus_argv(
    profile: BscProfile,
    port: int,
    geth_http_port: int,
    authrpc_port: int,
    jwt_secret: Path,
    *,
    python: str = sys.executable,
    host: str = "127.0.0.1",
) -> list[str]:
    """`devnet.consensus`: seals geth's blocks, keeps its safe/finalized tags like BSC, and
    serves the node's public JSON-RPC on `host:port`. geth's own command follows a `--`."""
    return [
        python,
        "-m",
        "devnet.consensus",
        "--host",
        host,
        "--port",
        str(port),
        "--geth-http",
        f"http://127.0.0.1:{geth_http_port}",
        "--engine",
        f"http://127.0.0.1:{authrpc_port}",
        "--jwt-secret",
        str(jwt_secret),
        "--fork",
        profile.hardfork,
        "--period",
        str(profile.block_period_s),
        "--safe-lag",
        str(profile.safe_lag),
        "--finalized-lag",
        str(profile.finalized_lag),
        *([] if profile.seal_until_final else ["--no-seal-until-final"]),
    ]


def geth_node_argv(
    profile: BscProfile,
    datadir: Path,
    port: int,
    *,
    internal_ports: tuple[int, int] | None = None,
    python: str = sys.executable,
    host: str = "127.0.0.1",
    geth: str | None = None,
) -> list[str]:
    """The geth node as one process: the consensus side with geth as its child."""
    http_port, authrpc_port = internal_ports or (free_port(), free_port())
    jwt_secret = datadir / JWT_SECRET_FILE
    node = geth_argv(profile, datadir, http_port, authrpc_port, jwt_secret, geth)
    consensus = consensus_argv(profile, port, http_port, authrpc_port, jwt_secret, python=python, host=host)
    return [*consensus, "--", *node]


#: anvil on demand with `seal_until_final`: its interval between empty blocks, in seconds.
ANVIL_FOLLOW_UP_S = 0.25

#: The folder (in a local anvil's workdir) it moves its older states to. anvil's default is
#: ~/.foundry/anvil/tmp, which it empties only on a clean shutdown: stopped by a signal, it left
#: gigabytes there per load test. Here they go with the node (`remove_anvil_states`).
ANVIL_STATES = "anvil-states"


def remove_anvil_states(workdir: Path) -> None:
    """Remove what a stopped local anvil spilled into `workdir` (its chain cannot resume)."""
    shutil.rmtree(workdir / ANVIL_STATES, ignore_errors=True)


def anvil_argv(
    profile: BscProfile, port: int, host: str = "127.0.0.1", states: Path | None = None
) -> list[str]:
    """anvil's command line; `states`: where it keeps its older states (default: its own)."""
    argv = [
        str(anvil_path()),
        "--host",
        host,
        "--port",
        str(port),
        "--chain-id",
        str(profile.chain_id),
        "--mnemonic",
        profile.mnemonic,
        "--accounts",
        str(profile.prefunded_accounts),
        "--balance",
        str(profile.prefund_wei // 10**18),
        "--base-fee",
        "0",
        "--gas-price",
        str(profile.min_gas_price_wei),
        "--gas-limit",
        str(profile.block_gas_limit),
        "--hardfork",
        profile.hardfork,
        # `safe` = head - 1 and `finalized` = head - 2, as BSC's fast finality (anvil's default
        # epoch of 32 slots puts them 32 and 64 blocks back).
        "--slots-in-an-epoch",
        "1",
    ]
    if states is not None:
        argv += ["--cache-path", str(states)]
    if profile.block_period_s:
        argv += ["--block-time", str(profile.block_period_s)]
    elif profile.seal_until_final:
        # anvil cannot seal "until final": it mines each transaction at once and, besides, a
        # block every ANVIL_FOLLOW_UP_S, so finality follows within two of them.
        argv += ["--mixed-mining", "--block-time", str(ANVIL_FOLLOW_UP_S)]
    return argv


def init_geth_datadir(profile: BscProfile, datadir: Path, log_path: Path) -> None:
    """Make `datadir` a geth datadir for `profile`: the Engine API's JWT secret, and (unless it
    already holds a chain, which then resumes) the genesis written by `geth init`, logging to
    `log_path`. Both runtimes run the node from a datadir made here: locally in place, on
    docker copied into its container."""
    datadir.mkdir(parents=True, exist_ok=True)
    write_jwt_secret(datadir / JWT_SECRET_FILE)
    if (datadir / "geth" / "chaindata").exists():
        return  # resumes the existing chain
    geth = geth_path()
    genesis = build_genesis(profile, geth_dev_genesis(geth))
    genesis_file = datadir / "genesis.json"
    genesis_file.write_text(json.dumps(genesis, indent=1))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    init_chain(geth, CRASH_SAFE_STORAGE, datadir, genesis_file, log_path)


def start_node(engine: Engine, profile: BscProfile, workdir: Path, port: int | None = None) -> NodeHandle:
    """Start `engine` with `profile` as a child process on `port` (default: a free one),
    keeping its data and log under `workdir`, and wait until it is ready
    (`devnet.components.node_readiness`: it answers its chain id; bsc has also sealed block 1).
    A datadir already in `workdir` (geth, bsc) resumes its chain."""
    from devnet.components import NodeInput, node_component
    from devnet.runtime.local import launch

    component = node_component(NodeInput(engine=engine, profile=profile, workdir=workdir))
    launched = launch(component, port)
    Wallet.forget_node(launched.url)
    info = NodeInfo(
        engine=engine,
        chain_id=profile.chain_id,
        rpc_url=launched.url,
        pid=launched.process.pid,
        log_path=str(component.log_path),
        datadir=str(component.datadir) if component.datadir else None,
        argv=launched.process.argv,
        start_seconds=launched.seconds,
    )
    return NodeHandle(info, launched.process, workdir)
