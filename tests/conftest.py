"""Fixtures over the devnet plugin (devnet.pytest_plugin): role wallets and token clients
for a private deployment per test, so tests may pause, blacklist and re-fee freely."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from devnet.core.accounts import RoleKeys
from devnet.core.chain import Chain
from devnet.core.deploy import Deployment
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet, WalletPool


@dataclass(frozen=True)
class RoleWallets:
    owner: Wallet
    master_minter: Wallet
    pauser: Wallet
    blacklister: Wallet
    rescuer: Wallet
    reporter: Wallet
    fee_collector: Wallet
    minter: Wallet
    second_minter: Wallet


@pytest.fixture(scope="session")
def roles(lane_roles: RoleKeys) -> RoleWallets:
    return RoleWallets(
        owner=Wallet.of(lane_roles.owner),
        master_minter=Wallet.of(lane_roles.master_minter),
        pauser=Wallet.of(lane_roles.pauser),
        blacklister=Wallet.of(lane_roles.blacklister),
        rescuer=Wallet.of(lane_roles.rescuer),
        reporter=Wallet.of(lane_roles.reporter),
        fee_collector=Wallet.of(lane_roles.fee_collector),
        minter=Wallet.of(lane_roles.minters[0]),
        second_minter=Wallet.of(lane_roles.minters[1]),
    )


@pytest.fixture
def kgst(chain: Chain, suite: Deployment) -> StableCoinClient:
    return StableCoinClient(chain, suite.token("KGST"))


@pytest.fixture
def usdkg(chain: Chain, suite: Deployment) -> StableCoinClient:
    return StableCoinClient(chain, suite.token("USDKG"))


@pytest.fixture
def alice(users: WalletPool) -> Wallet:
    return users[0]


@pytest.fixture
def bob(users: WalletPool) -> Wallet:
    return users[1]


@pytest.fixture
def carol(users: WalletPool) -> Wallet:
    return users[2]


@pytest.fixture
def funded_kgst(kgst: StableCoinClient, roles: RoleWallets, alice: Wallet) -> StableCoinClient:
    """KGST with a 1,000,000 KGS reserve reported and 1,000 KGST minted to alice."""
    kgst.report_reserve(roles.reporter, 1_000_000_00)
    kgst.mint(roles.minter, alice, kgst.units(1_000))
    return kgst
