"""Following the canonical chain by number and parent hash, for whatever books money on blocks.

Money is final only when the chain says so: a service pays, credits or books on the strength
of a block only once that block is final, and it follows blocks by number *and* parent hash,
so a reorg is seen rather than skipped:

- `final_height` is the newest block money may be booked on: the node's `finalized` block (BSC
  fast finality; the devnet's geth and anvil both answer it), or, on a node without finality,
  the block with `confirmations` confirmations (the block itself counts as the first);
- `read_headers` reads a range of headers in one batch and checks that they link to each other;
- `first_divergence` finds the lowest of the headers a service stored that is no longer on the
  canonical chain (where a reorg began).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from devnet.core.rpc import Rpc, RpcError


class Header(NamedTuple):
    number: int
    hash: str
    parent_hash: str

    @classmethod
    def of(cls, block: dict[str, Any]) -> Header:
        return cls(int(block["number"], 16), str(block["hash"]).lower(), str(block["parentHash"]).lower())


def final_height(rpc: Rpc, confirmations: int | None = None) -> int:
    """The newest block whose money is final: the `finalized` block, or with `confirmations`
    the head minus `confirmations - 1`. -1 while no block is final yet."""
    if confirmations is None:
        try:
            block = rpc.call("eth_getBlockByNumber", "finalized", False)
        except RpcError:  # geth before its first fork choice has no finalized block
            return -1
        return -1 if block is None else int(block["number"], 16)
    return int(rpc.call("eth_blockNumber"), 16) - confirmations + 1


def final_nonce(rpc: Rpc, address: str, confirmations: int | None = None) -> int:
    """How many transactions of `address` are in final blocks: a nonce below it can never be
    used by any other transaction, whatever reorg comes."""
    height = final_height(rpc, confirmations)
    if height < 0:
        return 0
    return int(rpc.call("eth_getTransactionCount", address, hex(height)), 16)


def read_headers(rpc: Rpc, start: int, end: int) -> list[Header] | None:
    """Headers `start..end` (one batch), each the parent of the next; None when one is missing
    or they do not link (the chain moved while they were read: try again)."""
    if end < start:
        return []
    replies = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(start, end + 1)])
    headers: list[Header] = []
    for reply in replies:
        if isinstance(reply, RpcError) or reply is None:
            return None
        header = Header.of(reply)
        if headers and header.parent_hash != headers[-1].hash:
            return None
        headers.append(header)
    return headers


def first_divergence(rpc: Rpc, stored: list[Header]) -> int | None:
    """The lowest number among `stored` whose block is not (or no longer) on the canonical chain;
    None when all of them still are."""
    if not stored:
        return None
    ordered = sorted(stored)
    replies = rpc.batch([("eth_getBlockByNumber", [hex(h.number), False]) for h in ordered])
    for header, reply in zip(ordered, replies, strict=True):
        if isinstance(reply, RpcError):
            raise reply
        if reply is None or str(reply["hash"]).lower() != header.hash:
            return header.number
    return None
