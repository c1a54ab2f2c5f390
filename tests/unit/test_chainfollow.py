"""Following the chain by number and parent hash (what the issuer's redemption scanner and the
exchange's treasury book money on), against a scripted chain that reorganises."""

from __future__ import annotations

import itertools
from typing import Any, cast

from devnet.core.chainfollow import Header, final_height, final_nonce, first_divergence, read_headers
from devnet.core.rpc import Rpc, RpcError


class ScriptedChain:
    """Blocks by number with hashes derived from (number, branch); `reorg` replaces a tail."""

    def __init__(self, height: int):
        self.branch = {n: "a" for n in range(height + 1)}
        self.finalized: int | None = None
        self.nonces: dict[tuple[str, int], int] = {}
        #: a block answered with a parent from another branch (a reorg in flight between reads)
        self.unlinked: int | None = None

    def hash(self, n: int) -> str:
        return "0x" + f"{n:04x}{self.branch[n]}".ljust(64, "0")

    def block(self, n: int) -> dict[str, Any] | None:
        if n not in self.branch:
            return None
        parent = self.hash(n - 1) if n else "0x" + "00" * 32
        if n == self.unlinked:
            parent = "0x" + "ff" * 32
        return {"number": hex(n), "hash": self.hash(n), "parentHash": parent}

    def reorg(self, from_block: int, branch: str, height: int | None = None) -> None:
        top = max(self.branch) if height is None else height
        self.branch = {n: b for n, b in self.branch.items() if n < from_block}
        self.branch.update({n: branch for n in range(from_block, top + 1)})

    # ---- the part of Rpc the follower uses --------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        if method == "eth_blockNumber":
            return hex(max(self.branch))
        if method == "eth_getTransactionCount":
            return hex(self.nonces.get((params[0], int(params[1], 16)), 0))
        assert method == "eth_getBlockByNumber"
        if params[0] == "finalized":
            if self.finalized is None:
                raise RpcError(method, {"code": -39001, "message": "finalized block not found"})
            return self.block(self.finalized)
        return self.block(int(params[0], 16))

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        return [self.call(m, *p) for m, p in calls]


def rpc(chain: ScriptedChain) -> Rpc:
    return cast(Rpc, chain)


def test_headers_of_a_range_link_to_each_other() -> None:
    chain = ScriptedChain(10)
    headers = read_headers(rpc(chain), 3, 6)
    assert headers is not None and [h.number for h in headers] == [3, 4, 5, 6]
    assert all(b.parent_hash == a.hash for a, b in itertools.pairwise(headers))
    assert read_headers(rpc(chain), 5, 4) == []


def test_a_range_past_the_head_is_read_again_later() -> None:
    assert read_headers(rpc(ScriptedChain(5)), 4, 7) is None


def test_a_range_that_does_not_link_is_read_again_later() -> None:
    chain = ScriptedChain(10)
    chain.unlinked = 6
    assert read_headers(rpc(chain), 4, 8) is None


def test_the_first_divergence_is_the_lowest_replaced_block() -> None:
    chain = ScriptedChain(10)
    stored = read_headers(rpc(chain), 0, 10)
    assert stored is not None and first_divergence(rpc(chain), stored) is None
    chain.reorg(8, "b")
    assert first_divergence(rpc(chain), stored) == 8
    chain.reorg(7, "c", height=7)  # shorter: blocks 8.. are gone
    assert first_divergence(rpc(chain), stored) == 7
    assert first_divergence(rpc(chain), []) is None


def test_a_reorg_to_the_same_height_is_seen_at_the_stored_tip() -> None:
    chain = ScriptedChain(10)
    tip = Header.of(chain.block(10) or {})
    chain.reorg(10, "b")
    assert first_divergence(rpc(chain), [tip]) == 10


def test_final_height_is_the_finalized_block_or_n_confirmations() -> None:
    chain = ScriptedChain(20)
    assert final_height(rpc(chain)) == -1  # no finalized block yet
    chain.finalized = 18
    assert final_height(rpc(chain)) == 18
    assert final_height(rpc(chain), confirmations=1) == 20  # the head itself
    assert final_height(rpc(chain), confirmations=3) == 18


def test_a_nonce_is_final_once_a_final_block_used_it() -> None:
    chain = ScriptedChain(20)
    sender = "0xabc"
    assert final_nonce(rpc(chain), sender) == 0  # nothing final yet
    chain.finalized = 18
    chain.nonces[(sender, 18)] = 5
    assert final_nonce(rpc(chain), sender) == 5
