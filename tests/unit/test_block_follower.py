"""The chain client's block follower against a scripted chain: receipts and log watches are
resolved from the blocks that hold them, and a wait that starts after an idle spell is
answered at the next block, not after a rest learned from the spell."""

from __future__ import annotations

import threading
import time
from typing import Any

from devnet.core.receipts import ReceiptWaiter


class ScriptedChain:
    """Answers the three calls the follower makes, from blocks the test appends."""

    def __init__(self) -> None:
        self.blocks: list[list[dict[str, Any]]] = [[]]
        self.lock = threading.Lock()

    def seal(self, *tx_hashes: str, logs: list[dict[str, Any]] | None = None) -> int:
        with self.lock:
            number = len(self.blocks)
            self.blocks.append(
                [
                    {"transactionHash": h, "blockNumber": hex(number), "status": "0x1", "logs": logs or []}
                    for h in tx_hashes
                ]
            )
            return number

    def call(self, method: str, *params: Any) -> Any:
        with self.lock:
            if method == "eth_blockNumber":
                return hex(len(self.blocks) - 1)
            if method == "eth_getBlockReceipts":
                return self.blocks[int(params[0], 16)]
        raise AssertionError(method)

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        with self.lock:
            return next((r for b in self.blocks for r in b if r["transactionHash"] == tx_hash), None)


def test_receipts_and_log_watches_resolve_from_their_blocks() -> None:
    chain = ScriptedChain()
    follower = ReceiptWaiter(chain)  # type: ignore[arg-type]
    try:
        log = {"address": "0xAB", "topics": ["0xT", "0x0", "0xW"], "data": "0x07"}
        other = follower.watch_log("0xab", ["0xt", "0x0", "0xw"], data="0x08")
        watched = follower.watch_log("0xab", ["0xt", "0x0", "0xw"], data="0x07")
        sent = follower.expect("0xaa")
        chain.seal("0xaa", logs=[log])
        assert sent.result(5)["blockNumber"] == "0x1"
        assert watched.result(5) == log
        assert not other.done()
        other.cancel()
    finally:
        follower.close()


def test_a_wait_after_an_idle_spell_is_answered_at_the_next_block() -> None:
    """Found in CI: after waits spaced by idle spells, the follower took the spells for a steady
    block period and rested most of it before asking for the head: a deployment's receipt wait
    timed out on a chain that seals on demand."""
    chain = ScriptedChain()
    follower = ReceiptWaiter(chain)  # type: ignore[arg-type]
    try:
        for i in range(7):  # one transaction per wait, 1 s of nothing between them
            if i:
                time.sleep(1.0)
            tx = f"0x{i:02x}"
            fut = follower.expect(tx)
            chain.seal(tx)
            fut.result(5)
        fut = follower.expect("0xff")  # and the next one at once
        chain.seal("0xff")
        started = time.monotonic()
        fut.result(5)
        # At the next poll (tens of ms); the bug rested ~0.8 s, 80% of the spells' spacing.
        assert time.monotonic() - started < 0.5
    finally:
        follower.close()


class LaggingChain(ScriptedChain):
    """Reports a new head before it serves that block's receipts (null, as a node answers for a
    block it does not have): a node behind a load balancer, or one whose head moved on while
    its indexes are written."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[int] = set()

    def call(self, method: str, *params: Any) -> Any:
        if method == "eth_getBlockReceipts":
            number = int(params[0], 16)
            with self.lock:
                first_time = number not in self.asked
                self.asked.add(number)
            if first_time and number > 0:
                return None
        return super().call(method, *params)


def test_a_block_the_node_does_not_serve_yet_is_asked_again_not_skipped() -> None:
    """A null answer for a block at or below the head is not an empty block: before, the
    follower moved past it and a receipt in it was never seen (the wait timed out)."""
    chain = LaggingChain()
    follower = ReceiptWaiter(chain)  # type: ignore[arg-type]
    try:
        fut = follower.expect("0xaa")
        chain.seal("0xaa")
        assert fut.result(5)["blockNumber"] == "0x1"
    finally:
        follower.close()
