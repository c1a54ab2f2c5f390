"""Pause, blacklist and the capped transfer fee."""

from __future__ import annotations

import time

import pytest

from devnet.core.chain import Reverted
from devnet.core.tokens import StableCoinClient, random_nonce
from devnet.core.wallets import Wallet
from tests.conftest import RoleWallets


def test_pause_stops_transfers_mint_burn_redeem_and_approvals(
    funded_kgst: StableCoinClient, roles: RoleWallets, alice: Wallet, bob: Wallet
) -> None:
    kgst = funded_kgst
    kgst.approve(alice, bob, kgst.units(5))
    kgst.mint(roles.minter, roles.minter, kgst.units(5))
    result = kgst.pause(roles.pauser)
    assert kgst.events(result, "Pause") == [{}]
    blocked = {
        "transfer": lambda: kgst.transfer(alice, bob, 1),
        "transferFrom": lambda: kgst.transfer_from(bob, alice, bob, 1),
        "approve": lambda: kgst.approve(alice, bob, 1),
        "mint": lambda: kgst.mint(roles.minter, alice, 1),
        "burn": lambda: kgst.burn(roles.minter, 1),
        "redeem": lambda: kgst.redeem(alice, 1, "1030120000000011"),
        "configureMinter": lambda: kgst.configure_minter(roles.master_minter, roles.second_minter, 1),
    }
    for name, action in blocked.items():
        with pytest.raises(Reverted, match=r"^Pausable: paused$"):
            action()
        assert name
    kgst.unpause(roles.pauser)
    kgst.transfer(alice, bob, 1)
    assert kgst.balance_of(bob) == 1


def test_pause_stops_signed_transfers(
    funded_kgst: StableCoinClient, roles: RoleWallets, alice: Wallet, bob: Wallet
) -> None:
    kgst = funded_kgst
    kgst.pause(roles.pauser)
    deadline = int(time.time()) + 3600
    sig = kgst.sign_permit(alice.account, bob, 1, deadline)
    with pytest.raises(Reverted, match=r"^Pausable: paused$"):
        kgst.permit(bob, alice.address, bob, 1, deadline, sig)
    nonce = random_nonce()
    auth = kgst.sign_authorization(alice.account, bob, 1, 0, deadline, nonce)
    with pytest.raises(Reverted, match=r"^Pausable: paused$"):
        kgst.chain.transact(
            bob,
            kgst.contract,
            "transferWithAuthorization",
            alice.address,
            bob.address,
            1,
            0,
            deadline,
            nonce,
            auth.v,
            auth.r,
            auth.s,
        )


def test_blacklisted_account_can_neither_send_nor_receive(
    funded_kgst: StableCoinClient, roles: RoleWallets, alice: Wallet, bob: Wallet, carol: Wallet
) -> None:
    kgst = funded_kgst
    kgst.transfer(alice, bob, kgst.units(10))
    kgst.approve(bob, carol, kgst.units(10))
    result = kgst.blacklist(roles.blacklister, bob)
    assert kgst.events(result, "Blacklisted") == [{"account": bob.address}]
    assert kgst.is_blacklisted(bob)
    with pytest.raises(Reverted, match=r"^Blacklistable: sender is blacklisted$"):
        kgst.transfer(bob, alice, 1)
    with pytest.raises(Reverted, match=r"^Blacklistable: recipient is blacklisted$"):
        kgst.transfer(alice, bob, 1)
    with pytest.raises(Reverted, match=r"^Blacklistable: sender is blacklisted$"):
        kgst.transfer_from(carol, bob, carol, 1)  # an allowance given before does not help
    with pytest.raises(Reverted, match=r"^Blacklistable: account is blacklisted$"):
        kgst.approve(bob, alice, 1)
    with pytest.raises(Reverted, match=r"^Blacklistable: account is blacklisted$"):
        kgst.mint(roles.minter, bob, 1)
    with pytest.raises(Reverted, match=r"^Blacklistable: account is blacklisted$"):
        kgst.redeem(bob, 1, "1030120000000011")
    kgst.un_blacklist(roles.blacklister, bob)
    kgst.transfer(bob, alice, 1)


def test_blacklisted_spender_and_minter_are_refused(
    funded_kgst: StableCoinClient, roles: RoleWallets, alice: Wallet, bob: Wallet
) -> None:
    kgst = funded_kgst
    kgst.approve(alice, bob, kgst.units(10))
    kgst.blacklist(roles.blacklister, bob)
    with pytest.raises(Reverted, match=r"^Blacklistable: account is blacklisted$"):
        kgst.transfer_from(bob, alice, alice, 1)
    kgst.blacklist(roles.blacklister, roles.minter)
    with pytest.raises(Reverted, match=r"^Blacklistable: account is blacklisted$"):
        kgst.mint(roles.minter, alice, 1)


def test_destroy_black_funds_burns_only_blacklisted_balances(
    funded_kgst: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    kgst = funded_kgst
    supply = kgst.total_supply()
    with pytest.raises(Reverted, match=r"account is not blacklisted"):
        kgst.destroy_black_funds(roles.blacklister, alice)
    kgst.blacklist(roles.blacklister, alice)
    result = kgst.destroy_black_funds(roles.blacklister, alice)
    assert kgst.events(result, "DestroyedBlackFunds") == [
        {"account": alice.address, "amount": kgst.units(1_000)}
    ]
    assert kgst.balance_of(alice) == 0
    assert kgst.total_supply() == supply - kgst.units(1_000)


def test_transfer_fee_is_capped_and_the_recipient_gets_value_minus_fee(
    funded_kgst: StableCoinClient, roles: RoleWallets, alice: Wallet, bob: Wallet
) -> None:
    kgst = funded_kgst
    assert kgst.contract.functions.transferFeeBps().call() == 0  # default: no fee
    with pytest.raises(Reverted, match=r"^StableCoin: fee above cap$"):
        kgst.set_transfer_fee(roles.owner, 21, roles.fee_collector)
    with pytest.raises(Reverted, match=r"fee collector is the zero address"):
        kgst.set_transfer_fee(roles.owner, 10, "0x" + "00" * 20)
    kgst.set_transfer_fee(roles.owner, 20, roles.fee_collector)
    amount = kgst.units(200)
    result = kgst.transfer(alice, bob, amount)
    fee = amount * 20 // 10_000
    assert kgst.balance_of(bob) == amount - fee
    assert kgst.balance_of(roles.fee_collector) == fee
    transfers = kgst.events(result, "Transfer")
    assert {(t["to"], t["value"]) for t in transfers} == {
        (roles.fee_collector.address, fee),
        (bob.address, amount - fee),
    }
    # mint and redeem carry no fee
    kgst.mint(roles.minter, bob, 10)
    assert kgst.balance_of(bob) == amount - fee + 10
    kgst.set_transfer_fee(roles.owner, 0, "0x" + "00" * 20)
    kgst.transfer(alice, bob, 100)
    assert kgst.balance_of(bob) == amount - fee + 110
