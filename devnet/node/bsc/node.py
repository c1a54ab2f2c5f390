"""The bsc engine's datadir and command line: one bsc process, one validator, its own chain.

`init_bsc_datadir` makes the datadir once (keys, genesis, `bsc init`); a datadir that already
holds a chain resumes it. `bsc_argv` runs the validator on it: it seals a block every 450 ms
(the Fermi interval) and votes, so `finalized` trails the head by about one block.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from devnet.node.bsc.genesis import (
    Validator,
    bsc_module_dir,
    build_bsc_genesis,
    chapel_genesis,
    final_system_contract_code,
)
from devnet.node.bsc.keys import (
    PASSWORD_FILE,
    create_bls_key,
    validator_account,
    write_consensus_keystore,
    write_password,
)
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
#: The validator's address, written at init so a resumed node needs no mnemonic.
VALIDATOR_FILE = "validator.json"


def init_bsc_datadir(profile: BscProfile, datadir: Path, log_path: Path) -> None:
    """Make `datadir` a bsc validator's datadir for `profile`: its keys, the genesis (see
    `devnet.node.bsc.genesis`), `bsc init`; logging to `log_path`. A datadir that already
    holds a chain is left as it is (it resumes)."""
    datadir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    (datadir / CONFIG_FILE).write_text(CONFIG)
    if (datadir / "geth" / "chaindata").exists():
        return
    bsc = bsc_path()
    password = write_password(datadir)
    account = validator_account(profile)
    write_consensus_keystore(datadir, account)
    bls_key = create_bls_key(bsc, datadir, password, log_path)
    validator = Validator(address=account.address, bls_public_key=bls_key)
    code = final_system_contract_code(bsc_module_dir(BSC_GO_MODULE))
    genesis = build_bsc_genesis(
        profile, chapel_genesis(bsc), code, [validator], int(time.time()), funded=[account.address]
    )
    genesis_file = datadir / GENESIS_FILE
    genesis_file.write_text(json.dumps(genesis, indent=1))
    (datadir / VALIDATOR_FILE).write_text(
        json.dumps({"address": account.address, "bls_public_key": "0x" + bls_key.hex()})
    )
    with open(log_path, "ab") as log:
        result = subprocess.run(
            [str(bsc), "init", *CRASH_SAFE_STORAGE, "--datadir", str(datadir), str(genesis_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise StartError(f"bsc init failed (exit {result.returncode}); see {log_path}")


def validator_address(datadir: Path) -> str:
    address: str = json.loads((datadir / VALIDATOR_FILE).read_text())["address"]
    return address


def bsc_argv(
    profile: BscProfile, datadir: Path, port: int, host: str = "127.0.0.1", bsc: str | None = None
) -> list[str]:
    """bsc as the validator of the chain in `datadir` (made by `init_bsc_datadir`), serving
    JSON-RPC on `host:port`. `bsc`: the program (default: the pinned one built here)."""
    pool = profile.txpool
    validator = validator_address(datadir)
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
        "--verbosity",
        "3",
    ]
