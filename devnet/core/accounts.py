"""Test accounts derived from one mnemonic, and the fixed role layout of the devnet.

Indices follow the usual Ethereum path m/44'/60'/0'/0/i, as anvil, Hardhat and MetaMask do,
so the same mnemonic gives the same addresses on every engine and in every wallet.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount

#: Well-known development mnemonic (anvil's and Hardhat's default). Never holds real value.
DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"


@lru_cache(maxsize=8)
def _seed(mnemonic: str) -> bytes:
    return bytes(seed_from_mnemonic(mnemonic, ""))


@lru_cache(maxsize=4096)
def derive_account(mnemonic: str, index: int) -> LocalAccount:
    key = key_from_seed(_seed(mnemonic), f"m/44'/60'/0'/0/{index}")
    account: LocalAccount = Account.from_key(key)
    return account


def derive_accounts(mnemonic: str, start: int, count: int) -> list[LocalAccount]:
    return [derive_account(mnemonic, i) for i in range(start, start + count)]


@dataclass(frozen=True)
class RoleLayout:
    """Which mnemonic index holds which role. Every role has its own key, as on mainnet."""

    deployer: int = 0
    owner: int = 1
    master_minter: int = 2
    pauser: int = 3
    blacklister: int = 4
    rescuer: int = 5
    reporter: int = 6
    fee_collector: int = 7
    #: Issuer minter keys: several, so mints are not serialized on one nonce.
    first_minter: int = 8
    minter_count: int = 4
    #: Pays BNB for the exchange's sweeps and tops up its hot wallet.
    exchange_gas_funder: int = 12
    #: Sends empty transactions to move an on-demand chain forward (confirmations).
    block_pusher: int = 13
    #: Accounts from here on are free for tests and load (split into lanes).
    first_free: int = 20


ROLE_LAYOUT = RoleLayout()


@dataclass(frozen=True)
class RoleKeys:
    """The keys that administer one deployment of the token suite."""

    deployer: LocalAccount
    owner: LocalAccount
    master_minter: LocalAccount
    pauser: LocalAccount
    blacklister: LocalAccount
    rescuer: LocalAccount
    reporter: LocalAccount
    fee_collector: LocalAccount
    minters: tuple[LocalAccount, ...]

    @classmethod
    def from_mnemonic(cls, mnemonic: str, layout: RoleLayout = ROLE_LAYOUT) -> RoleKeys:
        def at(i: int) -> LocalAccount:
            return derive_account(mnemonic, i)

        return cls(
            deployer=at(layout.deployer),
            owner=at(layout.owner),
            master_minter=at(layout.master_minter),
            pauser=at(layout.pauser),
            blacklister=at(layout.blacklister),
            rescuer=at(layout.rescuer),
            reporter=at(layout.reporter),
            fee_collector=at(layout.fee_collector),
            minters=tuple(at(layout.first_minter + i) for i in range(layout.minter_count)),
        )

    @classmethod
    def from_accounts(cls, accounts: list[LocalAccount], minter_count: int = 2) -> RoleKeys:
        """Roles for a private deployment (e.g. one per test) taken from a lane's accounts."""
        if len(accounts) < 8 + minter_count:
            raise ValueError(f"need {8 + minter_count} accounts for the roles, got {len(accounts)}")
        deployer, owner, master_minter, pauser, blacklister, rescuer, reporter, fee_collector = accounts[:8]
        return cls(
            deployer=deployer,
            owner=owner,
            master_minter=master_minter,
            pauser=pauser,
            blacklister=blacklister,
            rescuer=rescuer,
            reporter=reporter,
            fee_collector=fee_collector,
            minters=tuple(accounts[8 : 8 + minter_count]),
        )

    def as_addresses(self) -> dict[str, str | list[str]]:
        return {
            "deployer": self.deployer.address,
            "owner": self.owner.address,
            "master_minter": self.master_minter.address,
            "pauser": self.pauser.address,
            "blacklister": self.blacklister.address,
            "rescuer": self.rescuer.address,
            "reporter": self.reporter.address,
            "fee_collector": self.fee_collector.address,
            "minters": [m.address for m in self.minters],
        }
