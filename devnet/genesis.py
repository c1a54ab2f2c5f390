"""Genesis for the geth engine, generated from the pinned geth's own dev genesis.

geth's dev genesis already holds what its fork rules need (precompile balances, the Prague
system contracts for EIP-2935/4788/7002/7251); we keep those and set BSC's chain id, gas
limit, zero base fee, fork schedule and prefunded test accounts.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from devnet.core.accounts import derive_account
from devnet.profile import BscProfile

_FORK_TIMES = ("shanghaiTime", "cancunTime", "pragueTime", "osakaTime")


def geth_dev_genesis(geth: Path) -> dict[str, Any]:
    out = subprocess.run([str(geth), "--dev", "dumpgenesis"], capture_output=True, text=True, check=True)
    genesis: dict[str, Any] = json.loads(out.stdout)
    return genesis


def build_genesis(profile: BscProfile, dev_genesis: dict[str, Any]) -> dict[str, Any]:
    genesis: dict[str, Any] = json.loads(json.dumps(dev_genesis))  # deep copy
    config = genesis["config"]
    config["chainId"] = profile.chain_id
    # Merged at genesis, so `geth --dev` accepts the chain as its own.
    config["terminalTotalDifficulty"] = 0
    if profile.hardfork == "prague":
        config.pop("osakaTime", None)
        config.get("blobSchedule", {}).pop("osaka", None)
    unknown = [k for k in config if k.endswith("Time") and k not in _FORK_TIMES]
    if unknown:
        raise RuntimeError(f"this geth schedules forks BSC does not have: {unknown}; pin geth v1.17.4")
    genesis["difficulty"] = "0x0"
    genesis["gasLimit"] = hex(profile.block_gas_limit)
    genesis["baseFeePerGas"] = "0x0"
    genesis["timestamp"] = "0x0"
    for i in range(profile.prefunded_accounts):
        address = derive_account(profile.mnemonic, i).address
        genesis["alloc"][address.lower().removeprefix("0x")] = {"balance": hex(profile.prefund_wei)}
    return genesis
