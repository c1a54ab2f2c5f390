"""What a test does to the chain itself: mine blocks, inject a reorg, read the finality tags.

geth: the devnet's consensus side answers `devnet_mine`, `devnet_reorg` and `devnet_finality`
(see `devnet.consensus`). anvil: its own `anvil_mine` and `anvil_reorg`, with the same
result shape computed here. bsc: its validators seal a block every 450 ms by themselves, so
"mine N" waits for the next N blocks; a reorg comes from validators (a partition healed), not
on demand, and `reorg` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from devnet.core.rpc import Rpc
from devnet.core.wait import wait_until

Keep = Literal["all", "none"] | list[str]


@dataclass(frozen=True)
class Reorg:
    """A reorg that happened: blocks after `ancestor` replaced by `blocks`."""

    ancestor: int
    ancestor_hash: str
    #: Hashes of the blocks that left the canonical chain, oldest first.
    replaced: list[str]
    #: Hashes of the competing branch that is canonical now, oldest first.
    blocks: list[str]
    #: Transactions of the replaced blocks that are in no block now.
    dropped: list[str]
    #: Transactions of the replaced blocks that the new branch includes again.
    included: list[str]

    @property
    def depth(self) -> int:
        return len(self.replaced)


@dataclass(frozen=True)
class Finality:
    head: int
    safe: int
    finalized: int


class ReorgNotOnDemand(RuntimeError):
    """The engine cannot replace blocks on request (bsc: only its validators reorganise)."""


class NodeControl:
    def __init__(self, rpc: Rpc, engine: str):
        self.rpc = rpc
        self.engine = engine

    def head(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def mine(self, blocks: int = 1) -> int:
        """Seal `blocks` blocks now (empty unless transactions are pending); the new head."""
        if self.engine == "anvil":
            self.rpc.call("anvil_mine", hex(blocks))
            return self.head()
        if self.engine == "bsc":  # blocks come by themselves: wait for the next `blocks`
            target = self.head() + blocks

            def reached() -> int | None:
                head = self.head()
                return head if head >= target else None

            return wait_until(
                reached,
                timeout=10 + 2 * blocks,
                what=f"block {target} from the bsc validators",
                interval=0.05,
            )
        return int(self.rpc.call("devnet_mine", blocks)["number"])

    def finality(self) -> Finality:
        numbers = [
            self.rpc.call("eth_getBlockByNumber", tag, False) for tag in ("latest", "safe", "finalized")
        ]
        head, safe, finalized = (int(block["number"], 16) for block in numbers)
        return Finality(head, safe, finalized)

    def reorg(self, depth: int, keep: Keep = "none", extra_blocks: int = 0) -> Reorg:
        """Replace the last `depth` blocks by a competing branch of `depth + extra_blocks`
        blocks and make it canonical. `keep`: which of the replaced blocks' transactions the
        new branch includes again ("all", "none", or hashes); the others are dropped.

        geth refuses a reorg that would replace a finalized block, as BSC's fast finality does.

        A dropped transaction is left out of the new branch, not erased: geth, as any node,
        may return the transactions of a lost branch to its pool, and a later block may then
        include them again (at once, when blocks are sealed on demand).
        """
        if self.engine == "bsc":
            raise ReorgNotOnDemand(
                "the bsc engine has no reorg on demand: its validators seal and finalize blocks by "
                "Parlia's rules; use the geth engine (any depth) or anvil for injected reorgs"
            )
        if self.engine != "anvil":
            options = {"depth": depth, "keep": keep, "extraBlocks": extra_blocks}
            answer = self.rpc.call("devnet_reorg", options)
            return Reorg(
                answer["ancestor"]["number"],
                answer["ancestor"]["hash"],
                answer["replaced"],
                answer["blocks"],
                answer["dropped"],
                answer["included"],
            )
        return self._anvil_reorg(depth, keep, extra_blocks)

    def _anvil_reorg(self, depth: int, keep: Keep, extra_blocks: int) -> Reorg:
        head = self.head()
        ancestor = head - depth
        old = [self._block(n) for n in range(ancestor + 1, head + 1)]
        old_txs = [tx for block in old for tx in block["transactions"]]
        kept = old_txs if keep == "all" else [] if keep == "none" else list(keep)
        pairs = [[self.rpc.call("eth_getRawTransactionByHash", tx), 0] for tx in kept]
        self.rpc.call("anvil_reorg", depth, pairs)
        if extra_blocks:
            self.rpc.call("anvil_mine", hex(extra_blocks))
        new = [self._block(n) for n in range(ancestor + 1, head + extra_blocks + 1)]
        included = {tx for block in new for tx in block["transactions"]}
        return Reorg(
            ancestor,
            self._block(ancestor)["hash"],
            [b["hash"] for b in old],
            [b["hash"] for b in new],
            [tx for tx in old_txs if tx not in included],
            [tx for tx in old_txs if tx in included],
        )

    def _block(self, number: int) -> dict[str, Any]:
        block: dict[str, Any] = self.rpc.call("eth_getBlockByNumber", hex(number), False)
        return block
