"""Fork choice and block production for geth, the way BSC's validators drive a BSC node.

Each block: `engine_forkchoiceUpdatedV3` with payload attributes (geth starts building),
`engine_getPayloadV4/V5` (what it built), `engine_newPayloadV4` (geth executes and stores
it), then `engine_forkchoiceUpdatedV3` with the new head, `safe` = head - safe_lag and
`finalized` = head - finalized_lag: BSC's fast finality makes a block final two blocks on.

geth answers `getPayload` with whatever it has: an empty first draft until its first full
build is done. There is no call to wait for the full one, so the beacon waits in proportion
to the transactions pending (learning the rate), and rebuilds when it still got the draft.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_utils import keccak

from devnet.consensus.engine_api import EngineClient, EngineError, RpcClient

log = logging.getLogger("devnet.consensus")

GET_PAYLOAD = {"prague": "engine_getPayloadV4", "osaka": "engine_getPayloadV5"}
#: geth stops a build after its recommit interval (2 s); waiting longer gains nothing.
MAX_BUILD_WAIT_S = 2.5
BUILD_ATTEMPTS = 6
#: On-demand mode also checks the txpool this often, for transactions that did not come
#: through the front (re-injected after a reorg, sent to geth directly).
IDLE_POLL_S = 0.25
#: On demand with `seal_until_final`: how long the sealer waits for more transactions before it
#: seals an empty follow-up block (a transaction arriving meanwhile rides in that block instead).
FOLLOW_UP_S = 0.05
KEEP_HASHES = 512


@dataclass(frozen=True)
class Finality:
    """How far `safe` and `finalized` trail the head, in blocks (BSC: 1 and 2)."""

    safe_lag: int = 1
    finalized_lag: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.safe_lag <= self.finalized_lag:
            raise ValueError(
                f"need 0 <= safe_lag <= finalized_lag, got {self.safe_lag}, {self.finalized_lag}"
            )


@dataclass(frozen=True)
class Block:
    number: int
    hash: str
    timestamp: int
    transactions: tuple[str, ...] = ()

    @classmethod
    def of(cls, rpc_block: dict[str, Any]) -> Block:
        txs = tuple(t if isinstance(t, str) else t["hash"] for t in rpc_block.get("transactions", []))
        return cls(int(rpc_block["number"], 16), rpc_block["hash"], int(rpc_block["timestamp"], 16), txs)

    def json(self) -> dict[str, Any]:
        return {"number": self.number, "hash": self.hash, "timestamp": self.timestamp}


class ReorgRefused(ValueError):
    """A reorg the chain would not allow (bad depth, or it would replace a finalized block)."""


Keep = Literal["all", "none"] | list[str]

#: How long a reorg waits for geth's txpool to take in the rewound head before it gives up on
#: sending a kept transaction again.
POOL_RESET_WAIT_S = 5.0


async def send_again(eth: RpcClient, raws: list[str], wait_s: float = POOL_RESET_WAIT_S) -> None:
    """Send the kept transactions of a replaced branch again, in order, after `debug_setHead`.

    geth's txpool takes in a new head asynchronously: until it has, it checks nonces against the
    old head's state, and refuses a transaction the rewound chain has not executed yet as
    "nonce too low" (seen once in a local run of the issuer finality tests). Such a refusal is
    retried until the pool catches up; one the pool already holds (it may put a lost branch's
    transactions back itself) is fine as it is.
    """
    deadline = time.monotonic() + wait_s
    for raw in raws:
        while True:
            try:
                await eth.call("eth_sendRawTransaction", raw)
                break
            except EngineError as e:
                if "already known" in str(e):
                    break
                if "nonce too low" not in str(e) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)


@dataclass
class Beacon:
    engine: EngineClient
    eth: RpcClient
    fork: Literal["prague", "osaka"]
    finality: Finality = Finality()
    #: 0 = seal when transactions are pending; N = a block every N whole seconds.
    period_s: int = 0
    fee_recipient: str = "0x" + "00" * 20
    #: On demand: after a block with transactions, seal empty blocks until it is finalized, as
    #: the next blocks of a BSC chain would. Off: the chain only moves for transactions and
    #: `devnet_mine` (tests that hold a block unfinalized to reorganise it).
    seal_until_final: bool = True
    head: Block = field(init=False)
    finalized: int = field(init=False, default=0)
    lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _wake: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _hashes: dict[int, str] = field(init=False, default_factory=dict)
    #: Learned: seconds geth needs per pending transaction to finish a full payload.
    _seconds_per_tx: float = field(init=False, default=0.0001)
    #: The highest block this sealer put transactions in.
    _last_tx_block: int = field(init=False, default=0)

    # ---- state ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take over from wherever geth's chain is (a fresh genesis or a restarted datadir)."""
        self.head = Block.of(await self.eth.call("eth_getBlockByNumber", "latest", False))
        try:
            finalized = await self.eth.call("eth_getBlockByNumber", "finalized", False)
        except EngineError:  # geth has no finalized block before the first forkchoice
            finalized = None
        self.finalized = int(finalized["number"], 16) if finalized else 0
        self._remember(self.head)
        await self._forkchoice(None)

    def tags(self) -> tuple[int, int]:
        """(safe, finalized) block numbers for the current head; finalized never goes back."""
        head = self.head.number
        finalized = min(head, max(self.finalized, head - self.finality.finalized_lag))
        return max(finalized, head - self.finality.safe_lag), finalized

    def status(self) -> dict[str, Any]:
        safe, finalized = self.tags()
        return {
            "head": self.head.json(),
            "safe": safe,
            "finalized": finalized,
            "safeLag": self.finality.safe_lag,
            "finalizedLag": self.finality.finalized_lag,
            "periodSeconds": self.period_s,
            "sealUntilFinal": self.seal_until_final,
        }

    def _remember(self, block: Block) -> None:
        self._hashes[block.number] = block.hash
        for old in [n for n in self._hashes if n < block.number - KEEP_HASHES]:
            del self._hashes[old]

    async def _hash_of(self, number: int) -> str:
        if number not in self._hashes:
            block = await self.eth.call("eth_getBlockByNumber", hex(number), False)
            self._hashes[number] = block["hash"]
        return self._hashes[number]

    async def _forkchoice(self, attributes: dict[str, Any] | None) -> str | None:
        safe, finalized = self.tags()
        state = {
            "headBlockHash": self.head.hash,
            "safeBlockHash": await self._hash_of(safe),
            "finalizedBlockHash": await self._hash_of(finalized),
        }
        answer = await self.engine.call("engine_forkchoiceUpdatedV3", state, attributes)
        status = answer["payloadStatus"]
        if status["status"] != "VALID":
            raise EngineError(f"forkchoice {state} answered {status}")
        self.finalized = finalized
        payload_id: str | None = answer.get("payloadId")
        return payload_id

    async def pending(self) -> int:
        return int((await self.eth.call("txpool_status"))["pending"], 16)

    # ---- sealing --------------------------------------------------------------------------------

    def wake(self) -> None:
        """A transaction arrived: seal soon (on-demand mode)."""
        self._wake.set()

    async def _seal(
        self, timestamp: int | None = None, allow_empty: bool = True, pending: int | None = None
    ) -> Block | None:
        """Build, import and choose one block; None when `allow_empty` is off and geth had
        nothing to include (the txpool can list a just-included transaction for a moment).
        `pending`: the txpool's pending count, when the caller has just read it."""
        parent = self.head
        # Timestamps are whole seconds and must rise: a burst of blocks runs ahead of the clock.
        stamp = max(timestamp or int(time.time()), parent.timestamp + 1)
        beacon_root = "0x" + hashlib.sha256(bytes.fromhex(parent.hash[2:])).hexdigest()
        if pending is None:
            pending = await self.pending()
        if not pending and not allow_empty:
            return None
        wait = 0.002 + pending * self._seconds_per_tx
        for attempt in range(BUILD_ATTEMPTS):
            attributes = {
                "timestamp": hex(stamp),
                "prevRandao": "0x" + os.urandom(32).hex(),  # also makes a reorg branch differ
                "suggestedFeeRecipient": self.fee_recipient,
                "withdrawals": [],
                "parentBeaconBlockRoot": beacon_root,
            }
            payload_id = await self._forkchoice(attributes)
            if payload_id is None:
                raise EngineError(f"geth started no payload on {parent.hash}")
            await asyncio.sleep(min(wait, MAX_BUILD_WAIT_S))
            envelope = await self.engine.call(GET_PAYLOAD[self.fork], payload_id)
            payload = envelope["executionPayload"]
            if payload["transactions"] or pending == 0:
                if attempt == 0 and pending:
                    self._seconds_per_tx = max(0.00001, self._seconds_per_tx * 0.95)
                break
            pending = await self.pending()
            if pending:  # the empty draft: the full build was not done yet. Wait longer, rebuild.
                self._seconds_per_tx = min(0.01, self._seconds_per_tx * 2)
                wait *= 3
        if not payload["transactions"] and not allow_empty:
            return None
        log.debug(
            "block %s: %d txs of %d pending, %d build(s), waited %.4f s",
            int(payload["blockNumber"], 16),
            len(payload["transactions"]),
            pending,
            attempt + 1,
            wait,
        )
        status = await self.engine.call(
            "engine_newPayloadV4", payload, [], beacon_root, envelope.get("executionRequests") or []
        )
        if status["status"] != "VALID":
            raise EngineError(f"geth refused the payload it built: {status}")
        hashes = tuple("0x" + keccak(hexstr=raw).hex() for raw in payload["transactions"])
        block = Block(
            int(payload["blockNumber"], 16), payload["blockHash"], int(payload["timestamp"], 16), hashes
        )
        self.head = block
        self._remember(block)
        if hashes:
            self._last_tx_block = block.number
        await self._forkchoice(None)
        return block

    async def mine(self, blocks: int) -> Block:
        async with self.lock:
            for _ in range(blocks):
                await self._seal()
            return self.head

    async def run(self) -> None:
        """Produce blocks until cancelled."""
        while True:
            try:
                if self.period_s:
                    await self._next_slot()
                else:
                    await self._on_demand()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the chain alive; the next round retries
                log.exception("sealing failed")
                await asyncio.sleep(0.5)

    async def _next_slot(self) -> None:
        # The next whole second N s after the head, but never in the past: a head far behind
        # the clock (genesis is at 0, or the node was stopped) resumes now, not in a burst.
        slot = max(self.head.timestamp + self.period_s, math.ceil(time.time()))
        await asyncio.sleep(max(0.0, slot - time.time()))
        async with self.lock:
            if self.head.timestamp < slot:  # a reorg or a mine call may have taken the slot
                await self._seal(slot)

    def _awaiting_finality(self) -> bool:
        return self.seal_until_final and self.tags()[1] < min(self._last_tx_block, self.head.number)

    async def _on_demand(self) -> None:
        follow_up = self._awaiting_finality()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), FOLLOW_UP_S if follow_up else IDLE_POLL_S)
        self._wake.clear()
        sealed = False
        while pending := await self.pending():
            async with self.lock:
                block = await self._seal(allow_empty=False, pending=pending)
            if block is None:  # nothing includable (the pool lagged the last block): wait for news
                break
            sealed = True
        if not sealed and self._awaiting_finality():
            async with self.lock:  # nothing new arrived: an empty block moves finality on
                if self._awaiting_finality():
                    await self._seal()

    # ---- reorgs ---------------------------------------------------------------------------------

    async def reorg(self, depth: int, keep: Keep = "none", extra_blocks: int = 0) -> dict[str, Any]:
        """Replace the last `depth` blocks with a competing branch of `depth + extra_blocks`
        blocks built on block head - depth, and make it canonical through fork choice.

        `keep`: which transactions of the replaced blocks the new branch includes again
        ("all", "none", or a list of hashes, in the order given); the rest are dropped, as
        when a validator's branch loses. Transactions pending in the pool are included too.
        geth cannot build on a block that is not its head, so the old branch is first rewound
        (`debug_setHead`); its blocks are then unknown, as on a node that never saw them.
        """
        if depth < 1 or extra_blocks < 0:
            raise ReorgRefused(f"depth must be >= 1 and extra_blocks >= 0, got {depth}, {extra_blocks}")
        async with self.lock:
            head = self.head
            ancestor = head.number - depth
            _, finalized = self.tags()
            if ancestor < finalized:
                raise ReorgRefused(
                    f"a reorg of depth {depth} from head #{head.number} would replace finalized block "
                    f"#{finalized}; fast finality never reverts a finalized block "
                    f"(finalized lag: {self.finality.finalized_lag})"
                )
            old = [
                Block.of(await self.eth.call("eth_getBlockByNumber", hex(n), False))
                for n in range(ancestor + 1, head.number + 1)
            ]
            old_txs = [tx for block in old for tx in block.transactions]
            kept = old_txs if keep == "all" else [] if keep == "none" else list(keep)
            unknown = [tx for tx in kept if tx not in old_txs]
            if unknown:
                raise ReorgRefused(f"not in the replaced blocks: {unknown}")
            raw = {tx: await self.eth.call("eth_getRawTransactionByHash", tx) for tx in kept}
            await self.eth.call("debug_setHead", hex(ancestor))
            self.head = Block.of(await self.eth.call("eth_getBlockByNumber", hex(ancestor), False))
            for number in [n for n in self._hashes if n > ancestor]:
                del self._hashes[number]
            await send_again(self.eth, [raw[tx] for tx in kept])
            new = []
            for _ in range(depth + extra_blocks):
                block = await self._seal()
                assert block is not None
                new.append(block)
        included = {tx for block in new for tx in block.transactions}
        return {
            "ancestor": {"number": ancestor, "hash": await self._hash_of(ancestor)},
            "replaced": [b.hash for b in old],
            "blocks": [b.hash for b in new],
            "dropped": [tx for tx in old_txs if tx not in included],
            "included": [tx for tx in old_txs if tx in included],
        }
