"""Wallets count nonces locally per node URL; a count is only good for the chain it was made
on. A chain that answers at a URL where another chain answered before (ports are reused
between test devnets) must not inherit its counts."""

from __future__ import annotations

from typing import Any

from devnet.core.accounts import DEFAULT_MNEMONIC as MNEMONIC
from devnet.core.accounts import derive_accounts
from devnet.core.wallets import Wallet


class NodeStub:
    """Answers eth_getTransactionCount with `pending`, and counts how often it was asked."""

    def __init__(self, url: str, pending: int):
        self.url = url
        self.pending = pending
        self.asked = 0

    def call(self, method: str, *_params: Any) -> Any:
        assert method == "eth_getTransactionCount"
        self.asked += 1
        return hex(self.pending)


def test_counts_carry_on_for_the_same_chain_and_restart_for_another() -> None:
    wallet = Wallet.of(derive_accounts(MNEMONIC, 42, 1)[0])
    url = "http://127.0.0.1:40001"
    first = NodeStub(url, pending=5)
    Wallet.see_node(url, "0xaaaa")
    assert [wallet.next_nonce(first), wallet.next_nonce(first)] == [5, 6]  # type: ignore[arg-type]

    Wallet.see_node(url, "0xaaaa")  # another client of the same chain: the count goes on
    assert wallet.next_nonce(first) == 7  # type: ignore[arg-type]
    assert first.asked == 1

    second = NodeStub(url, pending=0)  # another chain on the same port
    Wallet.see_node(url, "0xbbbb")
    assert wallet.next_nonce(second) == 0  # type: ignore[arg-type]
    assert second.asked == 1


def test_a_node_started_at_a_url_forgets_the_counts_for_it() -> None:
    wallet = Wallet.of(derive_accounts(MNEMONIC, 43, 1)[0])
    url = "http://127.0.0.1:40002"
    node = NodeStub(url, pending=3)
    wallet.next_nonce(node)  # type: ignore[arg-type]
    node.pending = 0
    Wallet.forget_node(url)
    assert wallet.next_nonce(node) == 0  # type: ignore[arg-type]
