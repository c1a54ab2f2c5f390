"""Minter allowances and secure mint: KGST against the bank reserve, USDKG against gold."""

from __future__ import annotations

import pytest

from devnet.core.chain import Reverted
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet
from tests.conftest import RoleWallets

DAY = 86_400


def test_mint_lowers_allowance_exactly_and_burn_never_restores_it(
    kgst: StableCoinClient, roles: RoleWallets
) -> None:
    kgst.report_reserve(roles.reporter, 10_000_00)
    kgst.configure_minter(roles.master_minter, roles.minter, kgst.units(100))
    result = kgst.mint(roles.minter, roles.minter, kgst.units(30))
    assert kgst.minter_allowance(roles.minter) == kgst.units(70)
    assert kgst.events(result, "Mint") == [
        {"minter": roles.minter.address, "to": roles.minter.address, "amount": kgst.units(30)}
    ]
    assert kgst.events(result, "Transfer") == [
        {"from": "0x" + "00" * 20, "to": roles.minter.address, "value": kgst.units(30)}
    ]
    burned = kgst.burn(roles.minter, kgst.units(10))
    assert kgst.events(burned, "Burn") == [{"burner": roles.minter.address, "amount": kgst.units(10)}]
    assert kgst.minter_allowance(roles.minter) == kgst.units(70)
    assert kgst.total_supply() == kgst.units(20)
    with pytest.raises(Reverted, match=r"^StableCoin: mint amount exceeds minterAllowance$"):
        kgst.mint(roles.minter, roles.minter, kgst.units(70) + 1)
    kgst.mint(roles.minter, roles.minter, kgst.units(70))
    assert kgst.minter_allowance(roles.minter) == 0


def test_removed_minter_cannot_mint(kgst: StableCoinClient, roles: RoleWallets, alice: Wallet) -> None:
    kgst.report_reserve(roles.reporter, 10_000_00)
    kgst.remove_minter(roles.master_minter, roles.second_minter)
    assert kgst.minter_allowance(roles.second_minter) == 0
    with pytest.raises(Reverted, match=r"caller is not a minter"):
        kgst.mint(roles.second_minter, alice, 1)


def test_mint_and_burn_input_checks(kgst: StableCoinClient, roles: RoleWallets) -> None:
    kgst.report_reserve(roles.reporter, 10_000_00)
    with pytest.raises(Reverted, match=r"mint to the zero address"):
        kgst.mint(roles.minter, "0x" + "00" * 20, 1)
    with pytest.raises(Reverted, match=r"mint amount not greater than 0"):
        kgst.mint(roles.minter, roles.minter, 0)
    with pytest.raises(Reverted, match=r"burn amount exceeds balance"):
        kgst.burn(roles.minter, 1)


# ---- KGST: secure mint against the bank reserve ----------------------------------------------


def test_kgst_mint_without_any_reserve_report_reverts(
    kgst: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    with pytest.raises(Reverted, match=r"^SecureMint: no reserve report$"):
        kgst.mint(roles.minter, alice, 1)


def test_kgst_supply_may_reach_but_never_exceed_the_reserve(
    kgst: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    kgst.report_reserve(roles.reporter, 500_00)  # 500.00 KGS in the reserve account
    assert kgst.max_supply() == kgst.units(500)
    kgst.mint(roles.minter, alice, kgst.units(400))
    with pytest.raises(Reverted, match=r"^SecureMint: supply would exceed reserve$"):
        kgst.mint(roles.minter, alice, kgst.units(100) + 1)
    kgst.mint(roles.minter, alice, kgst.units(100))  # exactly at the reserve
    assert kgst.total_supply() == kgst.units(500)
    kgst.report_reserve(roles.reporter, 600_00)  # the bank credit arrived: room for 100 more
    kgst.mint(roles.minter, alice, kgst.units(100))


def test_kgst_stale_reserve_report_blocks_minting(
    kgst: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    now = int(kgst.chain.get_block()["timestamp"], 16)
    kgst.report_reserve(roles.reporter, 1_000_00, observed_at=now - DAY - 60)  # attested 24 h + 1 min ago
    with pytest.raises(Reverted, match=r"^SecureMint: reserve report is stale$"):
        kgst.mint(roles.minter, alice, 1)
    with pytest.raises(Reverted, match=r"reserve report is stale"):
        kgst.max_supply()
    kgst.report_reserve(roles.reporter, 1_000_00)  # a fresh attestation
    kgst.mint(roles.minter, alice, 1)


def test_reserve_feed_rejects_bad_reports(kgst: StableCoinClient, roles: RoleWallets, alice: Wallet) -> None:
    feed = kgst.feeds["reserve"]
    now = int(kgst.chain.get_block()["timestamp"], 16)
    with pytest.raises(Reverted, match=r"caller is not the reporter"):
        kgst.chain.transact(alice, feed, "report", 1, now)
    with pytest.raises(Reverted, match=r"negative answer"):
        kgst.chain.transact(roles.reporter, feed, "report", -1, now)
    with pytest.raises(Reverted, match=r"observation is in the future"):
        kgst.chain.transact(roles.reporter, feed, "report", 1, now + 3600)
    kgst.report_reserve(roles.reporter, 5, observed_at=now)
    with pytest.raises(Reverted, match=r"observation older than the latest round"):
        kgst.report_reserve(roles.reporter, 6, observed_at=now - 10)
    round_id, answer, _, updated_at, _ = feed.functions.latestRoundData().call()
    assert (round_id, answer, updated_at) == (1, 5, now)


# ---- USDKG: collateral floor over attested gold x XAU/USD -------------------------------------

OZ = 1000  # the ounces feed has 3 decimals
USD = 10**8  # the price feed has 8 decimals


def test_usdkg_mint_respects_the_collateral_floor(
    usdkg: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    # 1,000 fine oz at USD 2,500 = USD 2,500,000 of collateral; floor 1.0
    usdkg.report_gold(roles.reporter, fine_oz_milli=1_000 * OZ, price_e8=2_500 * USD)
    assert usdkg.max_supply() == usdkg.units(2_500_000)
    usdkg.mint(roles.minter, alice, usdkg.units(2_000_000))
    with pytest.raises(Reverted, match=r"^SecureMint: collateral ratio would fall below floor$"):
        usdkg.mint(roles.minter, alice, usdkg.units(500_000) + 1)
    usdkg.mint(roles.minter, alice, usdkg.units(500_000))


def test_usdkg_price_drop_halts_minting_until_bars_are_added(
    usdkg: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    # The Kreston reserve audit: 50.3M collateral for 50M tokens, CR about 1.006.
    usdkg.report_gold(roles.reporter, fine_oz_milli=12_091 * OZ, price_e8=4_160 * USD)  # ~50.30M
    usdkg.mint(roles.minter, alice, usdkg.units(50_000_000))
    ratio = usdkg.chain.call(usdkg.policy, "collateralRatioBps", usdkg.total_supply())
    assert 10_050 <= ratio <= 10_070
    usdkg.report_gold(roles.reporter, price_e8=4_130 * USD)  # gold falls 0.7%: CR below 1.0
    with pytest.raises(Reverted, match=r"collateral ratio would fall below floor"):
        usdkg.mint(roles.minter, alice, usdkg.units(1))
    usdkg.report_gold(roles.reporter, fine_oz_milli=(12_091 + 400) * OZ)  # one more ~400 oz bar vaulted
    usdkg.mint(roles.minter, alice, usdkg.units(1))


def test_usdkg_floor_above_one_is_enforced_and_below_one_refused(
    usdkg: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    usdkg.report_gold(roles.reporter, fine_oz_milli=100 * OZ, price_e8=2_000 * USD)  # USD 200,000
    usdkg.chain.transact(roles.owner, usdkg.policy, "setFloor", 12_500)  # CR >= 1.25
    assert usdkg.max_supply() == usdkg.units(160_000)
    with pytest.raises(Reverted, match=r"collateral ratio would fall below floor"):
        usdkg.mint(roles.minter, alice, usdkg.units(160_000) + 1)
    with pytest.raises(Reverted, match=r"^GoldCollateralPolicy: floor below 1.0$"):
        usdkg.chain.transact(roles.owner, usdkg.policy, "setFloor", 9_999)


@pytest.mark.parametrize("stale", ["ounces", "price"])
def test_usdkg_stale_attestation_or_price_blocks_minting(
    usdkg: StableCoinClient, roles: RoleWallets, alice: Wallet, stale: str
) -> None:
    now = int(usdkg.chain.get_block()["timestamp"], 16)
    old = now - DAY - 1
    usdkg.report_gold(roles.reporter, fine_oz_milli=1_000 * OZ, observed_at=old if stale == "ounces" else now)
    usdkg.report_gold(roles.reporter, price_e8=2_500 * USD, observed_at=old if stale == "price" else now)
    what = "gold attestation" if stale == "ounces" else "gold price"
    with pytest.raises(Reverted, match=rf"^SecureMint: {what} report is stale$"):
        usdkg.mint(roles.minter, alice, 1)


def test_usdkg_missing_price_blocks_minting(
    usdkg: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    usdkg.report_gold(roles.reporter, fine_oz_milli=1_000 * OZ)
    with pytest.raises(Reverted, match=r"^SecureMint: no gold price report$"):
        usdkg.mint(roles.minter, alice, 1)


def test_a_mint_is_observed_from_the_chain_by_wallet_and_amount(
    kgst: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    """What a flow waits on instead of polling: the block follower resolves the watch that
    matches the mint's Transfer exactly, and no other (another amount, another wallet)."""
    kgst.report_reserve(roles.reporter, 10_000_00)
    kgst.configure_minter(roles.master_minter, roles.minter, kgst.units(100))
    exact = kgst.watch_mint(alice, kgst.units(7))
    other_amount = kgst.watch_mint(alice, kgst.units(8))
    other_wallet = kgst.watch_mint(roles.minter, kgst.units(7))
    result = kgst.mint(roles.minter, alice, kgst.units(7))
    log = exact.result(timeout=30)
    assert log["transactionHash"] == result.tx_hash
    assert int(log["blockNumber"], 16) == result.block_number
    kgst.mint(roles.minter, roles.minter, kgst.units(1))  # one more block, with a mint to another
    assert not other_amount.done() and not other_wallet.done()
    for watch in (other_amount, other_wallet):
        assert watch.cancel()  # how a waiter gives up; the follower then stops for it
