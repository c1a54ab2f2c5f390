"""The bsc validator's keys, kept in its datadir.

- **Consensus key** (signs blocks): derived from the profile's mnemonic at
  `VALIDATOR_ACCOUNT_INDEX` + i, far above the test accounts' indices, so a devnet's validator
  is the same on every machine and never one of the accounts tests spend from. bsc reads it
  from a V3 keystore in `<datadir>/keystore`, unlocked with `--unlock` and `--password`.
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

#: Mnemonic index of the first validator's consensus key.
VALIDATOR_ACCOUNT_INDEX = 1_000_000
PASSWORD_FILE = "password.txt"
#: A devnet's keys guard nothing of value; the password only satisfies bsc.
PASSWORD = "devnet-bsc-validator"
#: bsc's folder of BLS keys inside the datadir (cmd/geth: BLSWalletPath).
BLS_WALLET = Path("bls") / "wallet"

_PUBLIC_KEY = re.compile(r"\[BLS public key\]\S*\s+(?:\S*?)0x([0-9a-fA-F]{96})")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def validator_account(profile: BscProfile, index: int = 0) -> LocalAccount:
    return derive_account(profile.mnemonic, VALIDATOR_ACCOUNT_INDEX + index)


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


def create_bls_key(bsc: Path, datadir: Path, password_file: Path, log_path: Path) -> bytes:
    """Make the BLS wallet in `datadir` with one new vote key, or read its key if it has one;
    returns the public key. bsc's output goes to `log_path`."""

    def run(*args: str) -> str:
        argv = [str(bsc), "bls", *args, "--datadir", str(datadir), "--blspassword", str(password_file)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        with open(log_path, "a") as log:
            log.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise StartError(f"`bsc bls {' '.join(args)}` failed (exit {result.returncode}); see {log_path}")
        return result.stdout

    if not (datadir / BLS_WALLET).exists():
        run("wallet", "create")
    keys = bls_public_keys(run("account", "list"))
    if not keys:
        run("account", "new")
        keys = bls_public_keys(run("account", "list"))
    if len(keys) != 1:
        raise StartError(f"expected one BLS key in {datadir / BLS_WALLET}, found {len(keys)}; see {log_path}")
    return keys[0]
