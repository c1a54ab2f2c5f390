"""The bsc engine's datadir and command line: one bsc process, one validator, its own chain.

`init_bsc_datadir` makes the datadir once (keys, genesis, `bsc init`); a datadir that already
holds a chain resumes it. `bsc_argv` runs the validator on it: it seals a block every 450 ms
(the Fermi interval) and votes (from its 41st block on), so `finalized` then trails the head
by about one block. `register_validator`, once it is ready, registers the validator in
StakeHub, or the chain would halt at its first breathe block (`devnet.node.bsc.stakehub`).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from pydantic import BaseModel

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
from devnet.node.process import StartError
from devnet.profile import BscProfile
from devnet.tools import BSC_GO_MODULE, bsc_path

#: Storage as for geth (devnet.node.node.CRASH_SAFE_STORAGE): goleveldb writes each batch
#: through, the hash scheme commits each block's state, so a killed node resumes its head.
CRASH_SAFE_STORAGE = ("--db.engine", "leveldb", "--state.scheme", "hash")
CONFIG_FILE = "config.toml"
#: P2P on loopback only, on a port of the system's choice: a devnet node has no peers.
CONFIG = """\
[Node.P2P]
ListenAddr = "127.0.0.1:0"
NoDiscovery = true
MaxPeers = 0
"""
GENESIS_FILE = "genesis.json"
#: The validator: its address, BLS key and proof, its operator, whether StakeHub has it.
VALIDATOR_FILE = "validator.json"


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


def init_bsc_datadir(profile: BscProfile, datadir: Path, log_path: Path) -> None:
    """Make `datadir` a bsc validator's datadir for `profile`: its keys, the genesis (see
    `devnet.node.bsc.genesis`), `bsc init`; logging to `log_path`. A datadir that already
    holds a chain is left as it is (it resumes)."""
    datadir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    (datadir / CONFIG_FILE).write_text(CONFIG)
    if not (datadir / "geth" / "chaindata").exists():
        _init(profile, datadir, log_path)
    if not ValidatorRecord.load(datadir).registered:
        # Until StakeHub has the validator, a breathe block halts the chain: start far enough
        # from the next one for the registration to land first.
        interval = profile.bsc_breathe_block_interval_s or BSC_BREATHE_INTERVAL_S
        time.sleep(breathe_wait_s(time.time(), interval))


def _init(profile: BscProfile, datadir: Path, log_path: Path) -> None:
    bsc = bsc_path()
    password = write_password(datadir)
    account = validator_account(profile)
    operator = operator_account(profile)
    write_consensus_keystore(datadir, account)
    bls_key = create_bls_key(bsc, datadir, password, log_path)
    proof = bls_proof(bsc, datadir, password, log_path, operator.address, bls_key, profile.chain_id)
    validator = Validator(address=account.address, bls_public_key=bls_key)
    code = final_system_contract_code(bsc_module_dir(BSC_GO_MODULE))
    genesis = build_bsc_genesis(
        profile,
        chapel_genesis(bsc),
        code,
        [validator],
        int(time.time()),
        funded=[account.address, operator.address],
    )
    genesis_file = datadir / GENESIS_FILE
    genesis_file.write_text(json.dumps(genesis, indent=1))
    ValidatorRecord(
        address=account.address,
        bls_public_key="0x" + bls_key.hex(),
        operator=operator.address,
        bls_proof="0x" + proof.hex(),
    ).save(datadir)
    with open(log_path, "ab") as log:
        result = subprocess.run(
            [str(bsc), "init", *CRASH_SAFE_STORAGE, "--datadir", str(datadir), str(genesis_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise StartError(f"bsc init failed (exit {result.returncode}); see {log_path}")


def register_validator(profile: BscProfile, datadir: Path, rpc_url: str) -> None:
    """Register the datadir's validator in StakeHub (once; see `devnet.node.bsc.stakehub`)."""
    record = ValidatorRecord.load(datadir)
    if record.registered:
        return
    operator = operator_account(profile)
    if operator.address != record.operator:
        raise StartError(f"the profile's operator {operator.address} is not this chain's ({record.operator})")
    register(
        rpc_url,
        profile,
        Wallet.of(operator),
        record.address,
        bytes.fromhex(record.bls_public_key.removeprefix("0x")),
        bytes.fromhex(record.bls_proof.removeprefix("0x")),
    )
    record.registered = True
    record.save(datadir)


def bsc_argv(
    profile: BscProfile, datadir: Path, port: int, host: str = "127.0.0.1", bsc: str | None = None
) -> list[str]:
    """bsc as the validator of the chain in `datadir` (made by `init_bsc_datadir`), serving
    JSON-RPC on `host:port`. `bsc`: the program (default: the pinned one built here)."""
    pool = profile.txpool
    validator = ValidatorRecord.load(datadir).address
    datadir = datadir.resolve()  # bsc wants absolute key and wallet paths
    password = str(datadir / PASSWORD_FILE)
    return [
        bsc or str(bsc_path()),
        "--config",
        str(datadir / CONFIG_FILE),
        "--datadir",
        str(datadir),
        "--networkid",
        str(profile.chain_id),
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
        "eth,net,web3,txpool,debug,parlia",
        "--http.vhosts",
        "*",
        "--ipcdisable",
        "--nodiscover",
        "--maxpeers",
        "0",
        "--cache",
        str(profile.geth_cache_mb),
        # The validator: seals and votes with the keys init_bsc_datadir made.
        "--mine",
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
        "--miner.gaslimit",
        str(profile.block_gas_limit),
        "--miner.gasprice",
        str(profile.min_gas_price_wei),
        "--txpool.pricelimit",
        str(profile.min_gas_price_wei),
        "--txpool.accountslots",
        str(pool.account_slots),
        "--txpool.globalslots",
        str(pool.global_slots),
        "--txpool.accountqueue",
        str(pool.account_queue),
        "--txpool.globalqueue",
        str(pool.global_queue),
        "--rpc.txfeecap",
        "0",
        *(
            ["--override.breatheblockinterval", str(profile.bsc_breathe_block_interval_s)]
            if profile.bsc_breathe_block_interval_s
            else []
        ),
        "--verbosity",
        "3",
    ]
