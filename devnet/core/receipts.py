"""One block follower per chain client: receipts and logs observed, not polled for.

web3's `wait_for_transaction_receipt` polls each transaction every 0.1 s, so a thread that
sends and waits tops out near 10 tx/s, and many waiting threads hammer the node. Here one
follower thread reads the chain head and each new block's receipts in one call
(`eth_getBlockReceipts`), and resolves every waiter the block answers: a transaction's receipt
(`future`, `expect`) or the first log that matches an expectation (`watch_log`: "a Transfer of
this amount from 0x0 to this wallet", which is how a flow learns that the issuer minted). It
reads the node only while someone waits; with nobody waiting it sleeps, and the next waiter
starts it at the head (older blocks cannot hold what is only now awaited: a log watch is
registered before the action that causes it, a transaction before it is sent or, for `future`,
looked up once directly).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from devnet.core.rpc import Rpc


class ReceiptTimeout(TimeoutError):
    pass


#: Heads that must come at a steady interval before the follower rests between them.
STEADY_BLOCKS = 5

#: The longest rest between heads, whatever the period (a slow chain is asked at least this often).
MAX_QUIET_S = 1.0

#: A log expectation's key: the emitting contract and the log's whole topic list, lowercase.
LogKey = tuple[str, tuple[str, ...]]


@dataclass
class _LogWatch:
    data: str | None
    future: Future[dict[str, Any]]


def _settle(future: Future[dict[str, Any]], value: dict[str, Any]) -> None:
    """Resolve `future` unless its waiter cancelled it (gave up) or it is resolved already."""
    with contextlib.suppress(InvalidStateError):
        future.set_result(value)


class ReceiptWaiter:
    def __init__(self, rpc: Rpc, poll_interval: float = 0.02):
        self._rpc = rpc
        self._poll = poll_interval
        self._lock = threading.Lock()
        self._pending: dict[str, Future[dict[str, Any]]] = {}
        self._logs: dict[LogKey, list[_LogWatch]] = {}
        self._next_block: int | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = False
        #: when the follower saw each of the last heads change (to find a steady block period)
        self._arrivals: deque[float] = deque(maxlen=STEADY_BLOCKS + 1)
        self._head: int | None = None

    # ---- registering -----------------------------------------------------------------------

    def future(self, tx_hash: str) -> Future[dict[str, Any]]:
        """A future resolved with the receipt of `tx_hash` once it is in a block (looked up once
        directly too, unless `expect` registered it before it was sent)."""
        tx_hash = tx_hash.lower()
        with self._lock:
            fut = self._pending.get(tx_hash)
            registered_before = fut is not None
            if fut is None:
                fut = self._register(tx_hash)
        if not registered_before:
            # Registered first, then looked up once: covers a block the follower already passed.
            receipt = self._rpc.receipt(tx_hash)
            if receipt is not None:
                self._resolve(tx_hash, receipt)
        return fut

    def expect(self, tx_hash: str) -> Future[dict[str, Any]]:
        """Register `tx_hash` before sending it: no block before now can hold it, so it needs no
        direct lookup (one RPC call less per transaction)."""
        with self._lock:
            fut = self._pending.get(tx_hash.lower()) or self._register(tx_hash.lower())
        return fut

    def forget(self, tx_hash: str) -> None:
        """Drop an expectation whose transaction was never sent (the node refused it)."""
        with self._lock:
            self._pending.pop(tx_hash.lower(), None)

    def watch_log(
        self, address: str, topics: Sequence[str], data: str | None = None
    ) -> Future[dict[str, Any]]:
        """A future resolved with the first log, in a block sealed after this call, emitted by
        `address` with exactly `topics` (and `data`, when given). Register it before the action
        that causes the log."""
        key: LogKey = (address.lower(), tuple(t.lower() for t in topics))
        watch = _LogWatch(data.lower() if data is not None else None, Future())
        with self._lock:
            self._start_at_head_if_idle()
            self._logs.setdefault(key, []).append(watch)
            self._ensure_thread()
        self._wake.set()
        return watch.future

    def _register(self, tx_hash: str) -> Future[dict[str, Any]]:
        """Under the lock."""
        self._start_at_head_if_idle()
        fut: Future[dict[str, Any]] = Future()
        self._pending[tx_hash] = fut
        self._ensure_thread()
        self._wake.set()
        return fut

    def _waiting(self) -> bool:
        """Under the lock."""
        return any(not f.done() for f in self._pending.values()) or any(
            not w.future.done() for watches in self._logs.values() for w in watches
        )

    def _start_at_head_if_idle(self) -> None:
        """Under the lock: with nobody waiting, the follower resumes at the head, not where it
        stopped (blocks sealed meanwhile cannot hold what is only now awaited)."""
        if self._next_block is None or not self._waiting():
            self._next_block = int(self._rpc.call("eth_blockNumber"), 16)
            self._arrivals.clear()

    # ---- waiting ---------------------------------------------------------------------------

    def wait(self, tx_hash: str, timeout: float = 60.0) -> dict[str, Any]:
        fut = self.future(tx_hash)
        try:
            return fut.result(timeout)
        except TimeoutError as e:
            fut.cancel()  # nobody waits for it any more: the follower may rest
            raise ReceiptTimeout(f"no receipt for {tx_hash} after {timeout} s") from e
        finally:
            with self._lock:
                if self._pending.get(tx_hash.lower()) is fut and fut.done():
                    del self._pending[tx_hash.lower()]

    def wait_all(self, tx_hashes: list[str], timeout: float = 120.0) -> list[dict[str, Any]]:
        futures = [self.future(h) for h in tx_hashes]
        deadline = time.monotonic() + timeout
        receipts = []
        for h, fut in zip(tx_hashes, futures, strict=True):
            try:
                receipts.append(fut.result(max(0.0, deadline - time.monotonic())))
            except TimeoutError as e:
                raise ReceiptTimeout(f"no receipt for {h} after {timeout} s") from e
        with self._lock:
            for h in tx_hashes:
                self._pending.pop(h.lower(), None)
        return receipts

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    # ---- following -------------------------------------------------------------------------

    def _quiet_until(self) -> float:
        """On a chain that seals at a steady period (the last STEADY_BLOCKS heads each came
        within 20% of their mean interval), the follower does not ask for the head again until
        80% of that interval has passed since the last one: at 1 s blocks about ten questions
        per block instead of fifty. On a chain that seals on demand, never quiet; and only heads
        seen while following count (an idle follower forgets them), so waits spaced by idle
        spells are not taken for a block period."""
        if len(self._arrivals) <= STEADY_BLOCKS:
            return 0.0
        times = list(self._arrivals)
        intervals = [b - a for a, b in pairwise(times)]
        mean = sum(intervals) / len(intervals)
        if mean <= 0 or any(abs(i - mean) > 0.2 * mean for i in intervals):
            return 0.0
        return times[-1] + min(0.8 * mean, MAX_QUIET_S)

    def _resolve(self, tx_hash: str, receipt: dict[str, Any]) -> None:
        with self._lock:
            fut = self._pending.get(tx_hash)
        if fut is not None:
            _settle(fut, receipt)

    def _match_logs(self, receipt: dict[str, Any]) -> None:
        for entry in receipt.get("logs") or ():
            key: LogKey = (str(entry["address"]).lower(), tuple(str(t).lower() for t in entry["topics"]))
            with self._lock:
                watches = self._logs.get(key)
                if not watches:
                    continue
                data = str(entry.get("data", "0x")).lower()
                hit = next((w for w in watches if w.data is None or w.data == data), None)
                if hit is None:
                    continue
                watches.remove(hit)
                if not watches:
                    del self._logs[key]
            _settle(hit.future, entry)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._follow, name="block-follower", daemon=True)
            self._thread.start()

    def _follow(self) -> None:
        while not self._closed:
            with self._lock:
                waiting = self._waiting()
                # Log watches whose waiter gave up (a timeout) are dropped here.
                for key in [k for k, ws in self._logs.items() if all(w.future.done() for w in ws)]:
                    del self._logs[key]
            if not waiting:
                # Heads seen across an idle spell say nothing of the block period.
                self._arrivals.clear()
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            quiet = self._quiet_until() - time.monotonic()
            if quiet > 0:  # the next block of a steady chain is not due yet
                self._wake.wait(quiet)
                self._wake.clear()
                continue
            try:
                head = int(self._rpc.call("eth_blockNumber"), 16)
                if head != self._head:
                    self._head = head
                    self._arrivals.append(time.monotonic())
                while True:
                    with self._lock:
                        number = self._next_block
                    if number is None or number > head:
                        break
                    receipts = self._rpc.call("eth_getBlockReceipts", hex(number))
                    if receipts is None:  # not there (yet, or reorganised away): ask again
                        break
                    for receipt in receipts:
                        self._resolve(receipt["transactionHash"].lower(), receipt)
                        self._match_logs(receipt)
                    with self._lock:
                        if self._next_block == number:  # not restarted at the head meanwhile
                            self._next_block = number + 1
            except Exception:  # a transient RPC failure must not kill the follower
                time.sleep(self._poll * 10)
            time.sleep(self._poll)
