"""EIP-2612 permit and EIP-3009 authorizations: use, replay, expiry, cancel."""

from __future__ import annotations

import pytest

from devnet.core.chain import Reverted
from devnet.core.tokens import StableCoinClient, random_nonce
from devnet.core.wallets import Wallet


def _now(token: StableCoinClient) -> int:
    return int(token.chain.get_block()["timestamp"], 16)


def test_permit_sets_allowance_once(
    funded_kgst: StableCoinClient, alice: Wallet, bob: Wallet, carol: Wallet
) -> None:
    kgst = funded_kgst
    deadline = _now(kgst) + 3600
    sig = kgst.sign_permit(alice.account, bob, kgst.units(50), deadline)
    kgst.permit(carol, alice.address, bob, kgst.units(50), deadline, sig)  # anyone may relay it
    assert kgst.allowance(alice, bob) == kgst.units(50)
    assert kgst.contract.functions.nonces(alice.address).call() == 1
    with pytest.raises(Reverted, match=r"^ERC2612InvalidSigner"):
        kgst.permit(carol, alice.address, bob, kgst.units(50), deadline, sig)  # replay
    kgst.transfer_from(bob, alice, bob, kgst.units(50))
    assert kgst.balance_of(bob) == kgst.units(50)


def test_permit_expired_or_signed_by_someone_else_is_refused(
    funded_kgst: StableCoinClient, alice: Wallet, bob: Wallet
) -> None:
    kgst = funded_kgst
    past = _now(kgst) - 1
    sig = kgst.sign_permit(alice.account, bob, 1, past)
    with pytest.raises(Reverted, match=r"^ERC2612ExpiredSignature"):
        kgst.permit(bob, alice.address, bob, 1, past, sig)
    deadline = _now(kgst) + 3600
    forged = kgst.sign_permit(bob.account, bob, 1, deadline, nonce=0)
    with pytest.raises(Reverted, match=r"^ERC2612InvalidSigner"):
        kgst.permit(bob, alice.address, bob, 1, deadline, forged)


def _use(
    token: StableCoinClient,
    relayer: Wallet,
    fn: str,
    holder: Wallet,
    to: Wallet,
    value: int,
    after: int,
    before: int,
    nonce: bytes,
    kind: str = "TransferWithAuthorization",
) -> None:
    sig = token.sign_authorization(holder.account, to, value, after, before, nonce, kind)
    token.chain.transact(
        relayer,
        token.contract,
        fn,
        holder.address,
        to.address,
        value,
        after,
        before,
        nonce,
        sig.v,
        sig.r,
        sig.s,
    )


def test_transfer_with_authorization_moves_funds_once(
    funded_kgst: StableCoinClient, alice: Wallet, bob: Wallet, carol: Wallet
) -> None:
    kgst = funded_kgst
    nonce = random_nonce()
    before = _now(kgst) + 3600
    _use(kgst, carol, "transferWithAuthorization", alice, bob, kgst.units(3), 0, before, nonce)
    assert kgst.balance_of(bob) == kgst.units(3)
    assert kgst.authorization_used(alice, nonce)
    with pytest.raises(Reverted, match=r"^ERC3009UsedAuthorization"):
        _use(kgst, carol, "transferWithAuthorization", alice, bob, kgst.units(3), 0, before, nonce)
    assert kgst.balance_of(bob) == kgst.units(3)


def test_authorization_outside_its_window_is_refused(
    funded_kgst: StableCoinClient, alice: Wallet, bob: Wallet
) -> None:
    kgst = funded_kgst
    now = _now(kgst)
    with pytest.raises(Reverted, match=r"^ERC3009InvalidAuthorizationTime"):  # expired
        _use(kgst, bob, "transferWithAuthorization", alice, bob, 1, 0, now - 1, random_nonce())
    with pytest.raises(Reverted, match=r"^ERC3009InvalidAuthorizationTime"):  # not yet valid
        _use(kgst, bob, "transferWithAuthorization", alice, bob, 1, now + 3600, now + 7200, random_nonce())


def test_receive_with_authorization_only_by_the_payee(
    funded_kgst: StableCoinClient, alice: Wallet, bob: Wallet, carol: Wallet
) -> None:
    kgst = funded_kgst
    before = _now(kgst) + 3600
    nonce = random_nonce()
    with pytest.raises(Reverted, match=r"^ERC20InvalidReceiver"):  # front-running relayer
        _use(
            kgst,
            carol,
            "receiveWithAuthorization",
            alice,
            bob,
            5,
            0,
            before,
            nonce,
            "ReceiveWithAuthorization",
        )
    _use(kgst, bob, "receiveWithAuthorization", alice, bob, 5, 0, before, nonce, "ReceiveWithAuthorization")
    assert kgst.balance_of(bob) == 5
    with pytest.raises(Reverted, match=r"^ERC3009InvalidSignature"):  # a transfer-kind signature
        _use(kgst, bob, "receiveWithAuthorization", alice, bob, 5, 0, before, random_nonce())


def test_cancelled_authorization_cannot_be_used(
    funded_kgst: StableCoinClient, alice: Wallet, bob: Wallet, carol: Wallet
) -> None:
    kgst = funded_kgst
    nonce = random_nonce()
    before = _now(kgst) + 3600
    cancel = kgst.sign_cancel(alice.account, nonce)
    result = kgst.chain.transact(
        carol, kgst.contract, "cancelAuthorization", alice.address, nonce, cancel.v, cancel.r, cancel.s
    )
    assert kgst.events(result, "AuthorizationCanceled") == [{"authorizer": alice.address, "nonce": nonce}]
    with pytest.raises(Reverted, match=r"^ERC3009UsedAuthorization"):
        _use(kgst, carol, "transferWithAuthorization", alice, bob, 1, 0, before, nonce)
    with pytest.raises(Reverted, match=r"^ERC3009UsedAuthorization"):  # cancel twice
        kgst.chain.transact(
            carol, kgst.contract, "cancelAuthorization", alice.address, nonce, cancel.v, cancel.r, cancel.s
        )
