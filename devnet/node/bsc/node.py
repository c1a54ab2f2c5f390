"""The bsc engine's datadirs and command line: its own chain, one validator by default
(`BscProfile.bsc_validators`, up to 6: one bsc process each, peered over loopback).

`init_bsc_datadir` makes the datadirs once (keys, genesis, `bsc init`); a datadir that already
holds a chain resumes it. `bsc_argv` runs the validator on it: it seals a block every 450 ms
(the Fermi interval) and votes (from its 41st block on), so `finalized` then trails the head
by about one block. `register_validator`, once it is ready, registers the validator in
StakeHub, or the chain would halt at its first breathe block (`devnet.node.bsc.stakehub`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from eth_keys.datatypes import PrivateKey
from pydantic import BaseModel

from devnet.core.accounts import derive_account
from devnet.core.wallets import Wallet
from devnet.node.bsc.genesis import (
    Validator,
    bsc_module_dir,
    build_bsc_genesis,
    chapel_genesis,
    final_system_contract_code,
)
from devnet.node.bsc.keys import (
    PASSWORD_FILE,
    bls_proof,
    create_bls_key,
    operator_account,
    validator_account,
    write_consensus_keystore,
    write_password,
)
from devnet.node.bsc.stakehub import BSC_BREATHE_INTERVAL_S, breathe_wait_s, register

# Storage as for geth: goleveldb writes each batch through, the hash scheme commits each block's
# state, so a killed node resumes its head.
from devnet.node.node import CRASH_SAFE_STORAGE
from devnet.node.process import StartError, free_port, init_chain
from devnet.profile import BscProfile
from devnet.tools import BSC_GO_MODULE, bsc_path

CONFIG_FILE = "config.toml"
#: P2P on loopback only, on a port of the system's choice: a devnet node has no peers.
CONFIG = """\
[Node.P2P]
ListenAddr = "127.0.0.1:0"
NoDiscovery = true
MaxPeers = 0
"""
GENESIS_FILE = "genesis.json"
#: Several validators: their peer limit (no discovery: only they connect).
MAX_PEERS = 25
#: Mnemonic index of the first validator's P2P node key.
NODE_KEY_ACCOUNT_INDEX = 1_000_200
#: The validator: its address, BLS key and proof, its operator, whether StakeHub has it.
VALIDATOR_FILE = "validator.json"


#: bsc swaps in its built-in Chapel genesis whenever the P2P network id is 97 (cmd/utils of
#: v1.7.8: `case ctx.Bool(ChapelFlag.Name) || cfg.NetworkId == 97`), which then refuses our
#: chain. The network id only names the P2P network our validators share; the chain id that
#: clients sign for (eth_chainId) is the genesis's, so chain id 97 runs on network id 10097.
RESERVED_NETWORK_IDS = {97: 10_097}


def network_id(chain_id: int) -> int:
    """The P2P network id for a chain id (the same, unless bsc reserves it for a built-in chain)."""
    return RESERVED_NETWORK_IDS.get(chain_id, chain_id)


class ValidatorRecord(BaseModel):
    address: str
    bls_public_key: str
    operator: str
    bls_proof: str
    #: StakeHub has it: the chain passes breathe blocks.
    registered: bool = False

    @classmethod
    def load(cls, datadir: Path) -> ValidatorRecord:
        return cls.model_validate_json((datadir / VALIDATOR_FILE).read_text())

    def save(self, datadir: Path) -> None:
        (datadir / VALIDATOR_FILE).write_text(self.model_dump_json(indent=1))


def validator_dir(root: Path, index: int) -> Path:
    """Validator `index`'s own datadir in the engine's folder `root`."""
    return root / f"validator{index}"


def init_bsc_datadir(profile: BscProfile, root: Path, log_path: Path) -> None:
    """Make `root` the datadirs of `profile.bsc_validators` bsc validators: their keys, the
    genesis (see `devnet.node.bsc.genesis`), `bsc init`; logging to `log_path`. Datadirs that
    already hold a chain are left as they are (they resume). At every start, each validator's
    P2P config: loopback ports, the others as static peers."""
    root.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if not (validator_dir(root, 0) / "geth" / "chaindata").exists():
        _init(profile, root, log_path)
    _write_p2p_configs(profile, root)
    records = [ValidatorRecord.load(validator_dir(root, i)) for i in range(profile.bsc_validators)]
    if not all(r.registered for r in records):
        # Until StakeHub has the validators, a breathe block halts the chain: start far
        # enough from the next one for the registrations to land first.
        interval = profile.bsc_breathe_block_interval_s or BSC_BREATHE_INTERVAL_S
        time.sleep(breathe_wait_s(time.time(), interval))


def _init(profile: BscProfile, root: Path, log_path: Path) -> None:
    bsc = bsc_path()
    validators: list[Validator] = []
    funded: list[str] = []
    for i in range(profile.bsc_validators):
        datadir = validator_dir(root, i)
        datadir.mkdir(parents=True, exist_ok=True)
        password = write_password(datadir)
        account = validator_account(profile, i)
        operator = operator_account(profile, i)
        write_consensus_keystore(datadir, account)
        bls_key = create_bls_key(bsc, datadir, password, log_path)
        proof = bls_proof(bsc, datadir, password, log_path, operator.address, bls_key, profile.chain_id)
        ValidatorRecord(
            address=account.address,
            bls_public_key="0x" + bls_key.hex(),
            operator=operator.address,
            bls_proof="0x" + proof.hex(),
        ).save(datadir)
        validators.append(Validator(address=account.address, bls_public_key=bls_key))
        funded += [account.address, operator.address]
    code = final_system_contract_code(bsc_module_dir(BSC_GO_MODULE))
    genesis = build_bsc_genesis(profile, chapel_genesis(bsc), code, validators, int(time.time()), funded)
    genesis_file = root / GENESIS_FILE
    genesis_file.write_text(json.dumps(genesis, indent=1))
    for i in range(profile.bsc_validators):
        datadir = validator_dir(root, i)
        init_chain(bsc, CRASH_SAFE_STORAGE, datadir, genesis_file, log_path)
        # A node key of our own, so the others know its enode before it starts.
        (datadir / "geth" / "nodekey").write_text(node_key(profile, i).hex())


def node_key(profile: BscProfile, index: int) -> bytes:
    """Validator `index`'s P2P key, from the mnemonic (beside its consensus key)."""
    return bytes(derive_account(profile.mnemonic, NODE_KEY_ACCOUNT_INDEX + index).key)


def _write_p2p_configs(profile: BscProfile, root: Path) -> None:
    n = profile.bsc_validators
    if n == 1:
        (validator_dir(root, 0) / CONFIG_FILE).write_text(CONFIG)
        return
    ports = [free_port() for _ in range(n)]
    enodes = [
        f"enode://{PrivateKey(node_key(profile, i)).public_key.to_bytes().hex()}@127.0.0.1:{ports[i]}"
        for i in range(n)
    ]
    for i in range(n):
        peers = ", ".join(json.dumps(e) for j, e in enumerate(enodes) if j != i)
        (validator_dir(root, i) / CONFIG_FILE).write_text(
            f'[Node.P2P]\nListenAddr = "127.0.0.1:{ports[i]}"\nNoDiscovery = true\n'
            f"MaxPeers = {MAX_PEERS}\nStaticNodes = [{peers}]\nTrustedNodes = [{peers}]\n"
        )


def register_validator(profile: BscProfile, root: Path, rpc_url: str) -> None:
    """Register each validator in StakeHub (once; see `devnet.node.bsc.stakehub`)."""
    for i in range(profile.bsc_validators):
        datadir = validator_dir(root, i)
        record = ValidatorRecord.load(datadir)
        if record.registered:
            continue
        operator = operator_account(profile, i)
        if operator.address != record.operator:
            raise StartError(f"operator {operator.address} (profile) is not {record.operator} (chain)")
        register(
            rpc_url,
            profile,
            Wallet.of(operator),
            record.address,
            bytes.fromhex(record.bls_public_key.removeprefix("0x")),
            bytes.fromhex(record.bls_proof.removeprefix("0x")),
            index=i,
        )
        record.registered = True
        record.save(datadir)


def bsc_argv(
    profile: BscProfile,
    root: Path,
    port: int,
    host: str = "127.0.0.1",
    python: str = sys.executable,
    bsc: str | None = None,
    run_root: Path | None = None,
) -> list[str]:
    """The validators of the chain in `root` (made by `init_bsc_datadir`), the first serving
    JSON-RPC on `host:port`: one bsc process, or for several `devnet.node.bsc.cluster`
    running one bsc per validator. `bsc`: the program (default: the pinned one built here).
    `run_root`: where `root` is for the processes (in a container), if not where it is here."""
    n = profile.bsc_validators

    def run_dir(i: int) -> Path | None:
        return None if run_root is None else validator_dir(run_root, i)

    if n == 1:
        return validator_argv(profile, validator_dir(root, 0), port, host, bsc, run_dir=run_dir(0))
    # The others: not sealing until devnet.node.bsc.cluster has seen them sync; each with
    # JSON-RPC on a loopback port of its own, to be asked that and told to seal. All with the
    # admin API: the cluster partitions them by their peers (devnet.node.bsc.faults).
    first = validator_argv(profile, validator_dir(root, 0), port, host, bsc, admin=True, run_dir=run_dir(0))
    others = [
        validator_argv(
            profile,
            validator_dir(root, i),
            free_port(),
            "127.0.0.1",
            bsc,
            seal=False,
            admin=True,
            run_dir=run_dir(i),
        )
        for i in range(1, n)
    ]
    return [python, "-m", "devnet.node.bsc.cluster", *(json.dumps(c) for c in [first, *others])]


def validator_argv(
    profile: BscProfile,
    datadir: Path,
    port: int,
    host: str = "127.0.0.1",
    bsc: str | None = None,
    seal: bool = True,
    admin: bool = False,
    run_dir: Path | None = None,
) -> list[str]:
    """bsc as one validator, on its `datadir`, serving JSON-RPC on `host:port`. Without `seal`
    it starts without sealing (`miner_start` starts it); with `admin`, it serves the admin API
    (its peers) as well. `run_dir`: where `datadir` is for the process (in a container)."""
    validator = ValidatorRecord.load(datadir).address
    datadir = run_dir or datadir.resolve()  # bsc wants absolute key and wallet paths
    password = str(datadir / PASSWORD_FILE)
    return [
        bsc or str(bsc_path()),
        "--config",
        str(datadir / CONFIG_FILE),
        "--datadir",
        str(datadir),
        "--networkid",
        str(network_id(profile.chain_id)),
        "--syncmode",
        "full",
        *CRASH_SAFE_STORAGE,
        "--gcmode",
        "archive",
        "--history.logs.disable",
        "--http",
        "--http.addr",
        host,
        "--http.port",
        str(port),
        "--http.api",
        "eth,net,web3,txpool,debug,parlia" + ("" if seal else ",miner") + (",admin" if admin else ""),
        "--http.vhosts",
        "*",
        "--ipcdisable",
        "--nodiscover",
        # geth lets a third of the peers at most dial in: with room for only the others, some
        # of their dials were refused and validators stayed apart.
        "--maxpeers",
        "0" if profile.bsc_validators == 1 else str(MAX_PEERS),
        "--cache",
        str(profile.geth_cache_mb),
        # The validator: seals and votes with the keys init_bsc_datadir made.
        *(["--mine"] if seal else []),
        "--vote",
        "--unlock",
        validator,
        "--password",
        password,
        "--allow-insecure-unlock",
        "--blspassword",
        password,
        "--blswallet",
        str(datadir / "bls" / "wallet"),
        "--miner.etherbase",
        validator,
        *profile.pool_and_price_flags(),
        *(
            ["--override.breatheblockinterval", str(profile.bsc_breathe_block_interval_s)]
            if profile.bsc_breathe_block_interval_s
            else []
        ),
        "--verbosity",
        "3",
    ]
