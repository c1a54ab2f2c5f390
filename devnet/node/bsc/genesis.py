"""Genesis for the bsc engine: a Parlia chain of our own, on today's BSC rules from block 1.

bsc has no dev mode: only mainnet, Chapel and Rialto are built in, and only their genesis
hashes get the system-contract upgrades each fork brings (bsc's
core/systemcontracts/upgrade.go applies them by genesis hash). A genesis of our own therefore
already holds the system contracts' final code. Where that code comes from, and the rest:

- **Chain rules** (`config`): the pinned bsc's own Chapel genesis (`bsc dumpgenesis --chapel`),
  with our chain id, every block fork at 0 and every time fork at genesis time + 1 s, so block
  1 runs on the newest rules. Block 1 is then the transition block of Feynman, where Parlia
  initialises StakeHub, Governor and the other BC-fusion contracts, and the one where it calls
  `init()` on the genesis contracts. The block interval follows the forks by itself (3 s,
  1.5 s Lorentz, 0.75 s Maxwell, 0.45 s Fermi) and so do the epochs (200, 500, 1000).
- **System contracts' code**: the Chapel bytecode bsc carries for every fork under
  `core/systemcontracts/<fork>/chapel/<Contract>`; each contract gets the code of the last
  fork that upgrades it (`SYSTEM_CONTRACT_FORKS`). `bsc_module_dir` finds the bsc module the
  binary was built from (the Go tools module's go-ethereum replacement, in the Go module
  cache), so the code always matches the binary.
- **Validators**: the validator-set contract's first validators are a constant in its
  bytecode (`INIT_VALIDATORSET_BYTES`: RLP of [package type 0, [[consensus address, fee
  address, BBC fee address, voting power], ...]], Chapel's six), which `init()` reads at
  block 1. `patch_init_validators` replaces it in place with ours, zero-padded to the same
  length (the contract's RLP iterator stops after the two items it reads), which caps this
  route at `MAX_VALIDATORS`. `init()` does not read BLS vote keys; they go into the
  contract's storage (`validatorExtraSet`, `validator_set_storage`). The finality reward's
  system transaction claims from SystemReward, which only pays its operators: the
  validator-set and slash contracts are made operators in its storage
  (`system_reward_storage`), or that transaction reverts and the block is invalid.
- **Header extra data** (before Bohr): 32 vanity bytes, one count byte, then per validator
  its address and its 48-byte BLS public key, then a 65-byte seal (`extra_data`).

Storage slots follow the contracts' sources in bnb-chain/bsc-genesis-contract
(`contracts/BSCValidatorSet.sol`, `contracts/SystemReward.sol`, both inheriting `System`,
whose only variable is `alreadyInit` in slot 0).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rlp
from eth_utils import keccak, to_canonical_address, to_checksum_address

from devnet.core.accounts import derive_account
from devnet.profile import BscProfile
from devnet.tools import ToolMissing

#: The system contracts by address, named as bsc names their code files.
SYSTEM_CONTRACTS: dict[str, str] = {
    "0x0000000000000000000000000000000000001000": "ValidatorContract",
    "0x0000000000000000000000000000000000001001": "SlashContract",
    "0x0000000000000000000000000000000000001002": "SystemRewardContract",
    "0x0000000000000000000000000000000000001003": "LightClientContract",
    "0x0000000000000000000000000000000000001004": "TokenHubContract",
    "0x0000000000000000000000000000000000001005": "RelayerIncentivizeContract",
    "0x0000000000000000000000000000000000001006": "RelayerHubContract",
    "0x0000000000000000000000000000000000001007": "GovHubContract",
    "0x0000000000000000000000000000000000001008": "TokenManagerContract",
    "0x0000000000000000000000000000000000002000": "CrossChainContract",
    "0x0000000000000000000000000000000000002001": "StakingContract",
    "0x0000000000000000000000000000000000002002": "StakeHubContract",
    "0x0000000000000000000000000000000000002003": "StakeCreditContract",
    "0x0000000000000000000000000000000000002004": "GovernorContract",
    "0x0000000000000000000000000000000000002005": "GovTokenContract",
    "0x0000000000000000000000000000000000002006": "TimelockContract",
    "0x0000000000000000000000000000000000003000": "TokenRecoverPortalContract",
}
VALIDATOR_CONTRACT = "0x0000000000000000000000000000000000001000"
SLASH_CONTRACT = "0x0000000000000000000000000000000000001001"
SYSTEM_REWARD_CONTRACT = "0x0000000000000000000000000000000000001002"
LIGHT_CLIENT_CONTRACT = "0x0000000000000000000000000000000000001003"
RELAYER_INCENTIVIZE_CONTRACT = "0x0000000000000000000000000000000000001005"

#: bsc's forks that bring system-contract code, oldest first (the order of
#: core/systemcontracts/upgrade.go's upgradeBuildInSystemContract).
SYSTEM_CONTRACT_FORKS = (
    "ramanujan",
    "niels",
    "mirror",
    "bruno",
    "euler",
    "gibbs",
    "moran",
    "planck",
    "luban",
    "plato",
    "kepler",
    "feynman",
    "feynman_fix",
    "haber_fix",
    "bohr",
    "pascal",
    "lorentz",
    "maxwell",
    "fermi",
    "pasteur",
)

#: Chapel's INIT_VALIDATORSET_BYTES holds six validators; ours are written in its place.
MAX_VALIDATORS = 6
#: Each initial validator's voting power (Chapel's value).
VOTING_POWER = 0x10000000
BLS_PUBLIC_KEY_BYTES = 48
EXTRA_VANITY = 32
EXTRA_SEAL = 65

#: BSCValidatorSet's storage: `validatorExtraSet` (ValidatorExtra[]) and the size of one
#: ValidatorExtra (enterMaintenanceHeight, isMaintaining, voteAddress, uint256[19] slots).
VALIDATOR_EXTRA_SET_SLOT = 11
VALIDATOR_EXTRA_SLOTS = 22
#: SystemReward's storage: `numOperator` and `operators` (mapping(address => bool)).
NUM_OPERATOR_SLOT = 1
OPERATORS_SLOT = 2


@dataclass(frozen=True)
class Validator:
    """One validator: its consensus address (signs blocks) and its BLS vote public key."""

    address: str
    bls_public_key: bytes

    def __post_init__(self) -> None:
        if len(self.bls_public_key) != BLS_PUBLIC_KEY_BYTES:
            raise ValueError(
                f"a BLS public key is {BLS_PUBLIC_KEY_BYTES} bytes, got {len(self.bls_public_key)}"
            )


# ---- the bsc module and its Chapel genesis ------------------------------------------------------


def bsc_module_dir(go_module: Path) -> Path:
    """The bnb-chain/bsc module the Go tools module `go_module` builds bsc from (in the Go
    module cache, where building bsc left it; else downloaded through the module proxy)."""
    go = shutil.which("go")
    if go is None:
        raise ToolMissing(
            "Go is not on PATH: the bsc engine's genesis takes the system contracts' code from the "
            f"bnb-chain/bsc module that {go_module} pins (in the Go module cache)."
        )
    out = subprocess.run(
        [go, "mod", "download", "-json", "github.com/ethereum/go-ethereum"],
        cwd=go_module,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise ToolMissing(f"`go mod download` of the bsc module in {go_module} failed: {out.stderr}")
    return Path(json.loads(out.stdout)["Dir"])


def final_system_contract_code(bsc_module: Path) -> dict[str, str]:
    """address -> hex code (no 0x) of each system contract after the last fork upgrading it
    on Chapel."""
    root = bsc_module / "core" / "systemcontracts"
    code: dict[str, str] = {}
    for address, name in SYSTEM_CONTRACTS.items():
        for fork in SYSTEM_CONTRACT_FORKS:
            path = root / fork / "chapel" / name
            if path.is_file():
                code[address] = path.read_text().strip().removeprefix("0x")
        if address not in code:
            raise RuntimeError(f"no Chapel code for {name} under {root}")
    return code


def chapel_genesis(bsc: Path) -> dict[str, Any]:
    out = subprocess.run([str(bsc), "--chapel", "dumpgenesis"], capture_output=True, text=True, check=True)
    genesis: dict[str, Any] = json.loads(out.stdout)
    return genesis


# ---- pure parts ---------------------------------------------------------------------------------


def extra_data(validators: Sequence[Validator]) -> bytes:
    """The genesis header's extra data before Bohr: vanity, count, (address, BLS key) each, seal."""
    body = b"".join(to_canonical_address(v.address) + v.bls_public_key for v in validators)
    return bytes(EXTRA_VANITY) + bytes([len(validators)]) + body + bytes(EXTRA_SEAL)


def init_validator_set_bytes(addresses: Sequence[str]) -> bytes:
    """INIT_VALIDATORSET_BYTES for `addresses` (each its own fee and BBC fee address)."""
    entries = []
    for address in addresses:
        raw = to_canonical_address(address)
        entries.append([raw, raw, raw, VOTING_POWER])
    encoded: bytes = rlp.encode([0, entries])
    return encoded


def _find_init_validator_set(code: bytes) -> tuple[int, int]:
    """(offset, length) of INIT_VALIDATORSET_BYTES in the validator-set contract's code: the
    RLP list [0, [[address, address, address, power], ...]] the code carries as data (over
    55 bytes, so its prefix is 0xf8 or 0xf9 and its length). The length is the list's own,
    without the zero padding a patched code has after it."""
    found: list[tuple[int, int]] = []
    for i, byte in enumerate(code):
        if byte not in (0xF8, 0xF9):
            continue
        size = byte - 0xF7  # how many bytes the length takes
        if code[i + 1 + size : i + 2 + size] != b"\x80":  # the package type, 0
            continue
        length = 1 + size + int.from_bytes(code[i + 1 : i + 1 + size], "big")
        try:
            items = rlp.decode(code[i : i + length])
        except rlp.exceptions.DecodingError:
            continue
        if _is_validator_set(items):
            found.append((i, length))
    if len(found) != 1:
        raise ValueError(
            f"expected one INIT_VALIDATORSET_BYTES in the validator-set code, found {len(found)}"
        )
    return found[0]


def _is_validator_set(items: object) -> bool:
    if not (isinstance(items, list) and len(items) == 2 and items[0] == b"" and isinstance(items[1], list)):
        return False
    return all(
        isinstance(v, list) and len(v) == 4 and all(isinstance(a, bytes) and len(a) == 20 for a in v[:3])
        for v in items[1]
    )


def init_validators(code: bytes) -> list[str]:
    """The consensus addresses INIT_VALIDATORSET_BYTES in `code` names (checksummed)."""
    offset, length = _find_init_validator_set(code)
    items = rlp.decode(code[offset : offset + length])
    return [to_checksum_address(v[0]) for v in items[1]]


def patch_init_validators(code: bytes, addresses: Sequence[str]) -> bytes:
    """`code` with its INIT_VALIDATORSET_BYTES replaced by ours, zero-padded to its length."""
    if not 1 <= len(addresses) <= MAX_VALIDATORS:
        raise ValueError(f"1 to {MAX_VALIDATORS} validators, got {len(addresses)}")
    offset, length = _find_init_validator_set(code)
    ours = init_validator_set_bytes(addresses)
    if len(ours) > length:
        raise ValueError(f"{len(addresses)} validators take {len(ours)} bytes, more than the {length} there")
    return code[:offset] + ours.ljust(length, b"\x00") + code[offset + length :]


def _slot(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _word(value: int | bytes) -> str:
    raw = value.to_bytes(32, "big") if isinstance(value, int) else value.ljust(32, b"\x00")
    return "0x" + raw.hex()


def _key(n: int) -> str:
    return "0x" + _slot(n).hex()


def validator_set_storage(validators: Sequence[Validator]) -> dict[str, str]:
    """The validator-set contract's `validatorExtraSet`: one entry per validator holding its
    BLS vote key (a 48-byte `bytes`: its length word, and its data at keccak(slot))."""
    storage = {_key(VALIDATOR_EXTRA_SET_SLOT): _word(len(validators))}
    base = int.from_bytes(keccak(_slot(VALIDATOR_EXTRA_SET_SLOT)), "big")
    for i, v in enumerate(validators):
        vote_slot = base + i * VALIDATOR_EXTRA_SLOTS + 2  # after enterMaintenanceHeight, isMaintaining
        storage[_key(vote_slot)] = _word(len(v.bls_public_key) * 2 + 1)
        data = int.from_bytes(keccak(_slot(vote_slot)), "big")
        key = v.bls_public_key
        for j in range(0, len(key), 32):
            storage[_key(data + j // 32)] = _word(key[j : j + 32])
    return storage


def system_reward_storage() -> dict[str, str]:
    """SystemReward initialised (as its `doInit` would) with the validator-set and slash
    contracts among its operators, beside its own two (light client, relayer incentives)."""
    operators = (LIGHT_CLIENT_CONTRACT, RELAYER_INCENTIVIZE_CONTRACT, VALIDATOR_CONTRACT, SLASH_CONTRACT)
    storage = {_key(0): _word(1), _key(NUM_OPERATOR_SLOT): _word(len(operators))}
    for operator in operators:
        slot = keccak(to_canonical_address(operator).rjust(32, b"\x00") + _slot(OPERATORS_SLOT))
        storage["0x" + slot.hex()] = _word(1)
    return storage


def build_bsc_genesis(
    profile: BscProfile,
    chapel: dict[str, Any],
    contract_code: dict[str, str],
    validators: Sequence[Validator],
    timestamp: int,
    funded: Sequence[str] = (),
) -> dict[str, Any]:
    """The genesis: Chapel's rules from block 1 (`chapel`: `bsc --chapel dumpgenesis`), our
    chain id, validators, gas limit and prefunded accounts (the profile's test accounts, and
    `funded`, e.g. the validators, with the same amount)."""
    config: dict[str, Any] = json.loads(json.dumps(chapel["config"]))
    config["chainId"] = profile.chain_id
    for key, value in list(config.items()):
        if key.endswith("Block") and value is not None:
            config[key] = 0
        elif key.endswith("Time") and value is not None:
            config[key] = timestamp + 1
    alloc: dict[str, Any] = {}
    for address, code in contract_code.items():
        alloc[address] = {"balance": "0x0", "code": "0x" + code}
    validator_code = bytes.fromhex(contract_code[VALIDATOR_CONTRACT])
    alloc[VALIDATOR_CONTRACT]["code"] = (
        "0x" + patch_init_validators(validator_code, [v.address for v in validators]).hex()
    )
    alloc[VALIDATOR_CONTRACT]["storage"] = validator_set_storage(validators)
    alloc[SYSTEM_REWARD_CONTRACT]["storage"] = system_reward_storage()
    accounts = [derive_account(profile.mnemonic, i).address for i in range(profile.prefunded_accounts)]
    for address in [*accounts, *funded]:
        alloc[address.lower()] = {"balance": hex(profile.prefund_wei)}
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(timestamp),
        "extraData": "0x" + extra_data(validators).hex(),
        "gasLimit": hex(profile.block_gas_limit),
        "difficulty": "0x1",
        "mixHash": "0x" + bytes(32).hex(),
        "coinbase": "0x" + bytes(20).hex(),
        "baseFeePerGas": "0x0",
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": "0x" + bytes(32).hex(),
        "alloc": alloc,
    }
