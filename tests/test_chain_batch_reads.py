"""`Chain.call_many` (one JSON-RPC batch of eth_calls, decoded by hand for the issuer's hot path)
answers exactly what web3's contract calls answer, reverts included."""

from __future__ import annotations

from devnet.core.chain import Chain, ContractCall, Reverted
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet
from tests.conftest import RoleWallets


def test_batched_reads_equal_web3s_one_by_one(
    chain: Chain, kgst: StableCoinClient, roles: RoleWallets, alice: Wallet
) -> None:
    kgst.blacklist(roles.blacklister, alice)
    feeds = kgst.feeds
    calls: list[ContractCall] = [
        (kgst.contract, "paused", ()),
        (kgst.contract, "isBlacklisted", (alice.address,)),
        (kgst.contract, "isBlacklisted", (roles.owner.address,)),
        (kgst.contract, "totalSupply", ()),
        (kgst.contract, "name", ()),
        (kgst.contract, "decimals", ()),
        (kgst.contract, "balanceOf", (alice.address,)),
        (kgst.contract, "owner", ()),
        (feeds["reserve"], "latestRoundData", ()),
    ]
    batched = chain.call_many(calls)
    one_by_one: list[object] = []
    for contract, fn, args in calls:
        try:
            one_by_one.append(chain.call(contract, fn, *args))
        except Reverted as e:
            one_by_one.append(("reverted", e.reason))
    as_compared = [("reverted", b.reason) if isinstance(b, Reverted) else b for b in batched]
    # web3 answers a multi-output function as a list, call_many as a tuple
    assert [tuple(v) if isinstance(v, list) else v for v in one_by_one] == as_compared
    assert batched[1] is True and batched[2] is False


def test_a_revert_in_a_batch_is_returned_in_its_place(chain: Chain, kgst: StableCoinClient) -> None:
    """A policy whose inputs are stale reverts `maxSupply` with its reason: the batch still
    answers the other reads."""
    try:
        expected: object = chain.call(kgst.policy, "maxSupply")
    except Reverted as e:
        expected = e
    answer, paused = chain.call_many([(kgst.policy, "maxSupply", ()), (kgst.contract, "paused", ())])
    if isinstance(expected, Reverted):
        assert isinstance(answer, Reverted) and answer.reason == expected.reason
    else:
        assert answer == expected
    assert paused is False
