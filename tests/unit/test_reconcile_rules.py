"""Reconciliation's pure rules, without a node or services."""

from __future__ import annotations

from collections import Counter

from harness.reconcile import one_to_one


def test_each_mint_once_on_each_side_is_clean() -> None:
    check = one_to_one("mints", Counter({"0xa": 1, "0xb": 1}), Counter({"0xa": 1, "0xb": 1}))
    assert check.ok, check.detail


def test_a_transaction_minting_twice_on_chain_is_not_hidden_by_one_booking() -> None:
    check = one_to_one("mints", Counter({"0xa": 2}), Counter({"0xa": 1}))
    assert not check.ok and "more than once: ['0xa']" in check.detail


def test_one_mint_booked_twice_is_not_hidden_by_one_on_chain() -> None:
    check = one_to_one("mints", Counter({"0xa": 1}), Counter({"0xa": 2}))
    assert not check.ok and "more than once: ['0xa']" in check.detail


def test_orphans_and_unseen_bookings_are_named() -> None:
    check = one_to_one("mints", Counter({"0xa": 1}), Counter({"0xb": 1}))
    assert not check.ok
    assert "on chain, not booked: ['0xa']" in check.detail and "booked, not on chain: ['0xb']" in check.detail
