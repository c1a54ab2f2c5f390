"""The bsc validator's keys, kept in its datadir.

- **Consensus key** (signs blocks): derived from the profile's mnemonic at
  `VALIDATOR_ACCOUNT_INDEX` + i, far above the test accounts' indices, so a devnet's validator
  is the same on every machine and never one of the accounts tests spend from. bsc reads it
  from a V3 keystore in `<datadir>/keystore`, unlocked with `--unlock` and `--password`.
- **Operator key** (StakeHub): the account that registers the validator in StakeHub and
  stakes its self-delegation, at `OPERATOR_ACCOUNT_INDEX` + i. Not the consensus key: bsc
  signs its system transactions with that one, at nonces of its own.
- **BLS vote key** (fast finality): made by bsc itself (`bsc bls wallet create`, then
  `bsc bls account new`) into `<datadir>/bls/wallet`, where the node finds it; its public
  key is read back with `bsc bls account list`. BLS keys are not derived here: that needs
  BLS12-381 arithmetic, which bsc has and this package does not.

One password file (`PASSWORD_FILE`) locks both; bsc wants at least 10 characters.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from devnet.core.accounts import derive_account
from devnet.node.process import StartError
from devnet.profile import BscProfile

#: Mnemonic index of the first validator's consensus key, and of its operator's key.
VALIDATOR_ACCOUNT_INDEX = 1_000_000
OPERATOR_ACCOUNT_INDEX = 1_000_100
PASSWORD_FILE = "password.txt"
#: A devnet's keys guard nothing of value; the password only satisfies bsc.
PASSWORD = "devnet-bsc-validator"
#: bsc's folder of BLS keys inside the datadir (cmd/geth: BLSWalletPath).
BLS_WALLET = Path("bls") / "wallet"

_PROOF = re.compile(r"Proof:\s*0x([0-9a-fA-F]{192})")
_PUBLIC_KEY = re.compile(r"\[BLS public key\]\S*\s+(?:\S*?)0x([0-9a-fA-F]{96})")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def validator_account(profile: BscProfile, index: int = 0) -> LocalAccount:
    return derive_account(profile.mnemonic, VALIDATOR_ACCOUNT_INDEX + index)


def operator_account(profile: BscProfile, index: int = 0) -> LocalAccount:
    return derive_account(profile.mnemonic, OPERATOR_ACCOUNT_INDEX + index)


def write_password(datadir: Path) -> Path:
    path = datadir / PASSWORD_FILE
    path.write_text(PASSWORD + "\n")
    return path


def write_consensus_keystore(datadir: Path, account: LocalAccount) -> Path:
    """`account` as a V3 keystore file in `<datadir>/keystore` (where bsc looks)."""
    keystore = datadir / "keystore"
    keystore.mkdir(parents=True, exist_ok=True)
    path = keystore / f"validator-{account.address.lower().removeprefix('0x')}.json"
    # A light scrypt: the default (n = 2**18) takes seconds to decrypt at every start.
    path.write_text(json.dumps(Account.encrypt(account.key, PASSWORD, kdf="scrypt", iterations=2**12)))
    return path


def bls_public_keys(output: str) -> list[bytes]:
    """The BLS public keys `bsc bls account list` printed, in order."""
    return [bytes.fromhex(m) for m in _PUBLIC_KEY.findall(_ANSI.sub("", output))]


def _bls(
    bsc: Path, datadir: Path, password_file: Path, log: Path, *args: str, positional: tuple[str, ...] = ()
) -> str:
    """`bsc bls <args>` on the wallet in `datadir` (its flags before `positional`: bsc's
    command-line parser stops at the first argument); its output, also appended to `log_path`."""
    flags = ["--datadir", str(datadir), "--blspassword", str(password_file)]
    argv = [str(bsc), "bls", *args, *flags, *positional]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    with open(log, "a") as f:
        f.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise StartError(f"`bsc bls {' '.join(args)}` failed (exit {result.returncode}); see {log}")
    return result.stdout


def create_bls_key(bsc: Path, datadir: Path, password_file: Path, log_path: Path) -> bytes:
    """Make the BLS wallet in `datadir` with one new vote key, or read its key if it has one;
    returns the public key. bsc's output goes to `log_path`."""

    def run(*args: str) -> str:
        return _bls(bsc, datadir, password_file, log_path, *args)

    if not (datadir / BLS_WALLET).exists():
        run("wallet", "create")
    keys = bls_public_keys(run("account", "list"))
    if not keys:
        run("account", "new")
        keys = bls_public_keys(run("account", "list"))
    if len(keys) != 1:
        raise StartError(f"expected one BLS key in {datadir / BLS_WALLET}, found {len(keys)}; see {log_path}")
    return keys[0]


def bls_proof(
    bsc: Path, datadir: Path, password_file: Path, log_path: Path, operator: str, key: bytes, chain_id: int
) -> bytes:
    """The BLS key's proof of possession StakeHub's createValidator checks: the key's signature
    of keccak(operator, key, chain id) (`bsc bls account generate-proof`)."""
    out = _bls(
        bsc, datadir, password_file, log_path,
        "account", "generate-proof", "--chain-id", str(chain_id), positional=(operator, "0x" + key.hex()),
    )  # fmt: skip
    found = _PROOF.search(_ANSI.sub("", out))
    if found is None:
        raise StartError(f"no proof in the output of `bsc bls account generate-proof`; see {log_path}")
    return bytes.fromhex(found.group(1))
