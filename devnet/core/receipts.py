"""Receipt waiting that does not cap throughput.

web3's `wait_for_transaction_receipt` polls each transaction every 0.1 s, so a thread that
sends and waits tops out near 10 tx/s, and many waiting threads hammer the node. Here one
poller follows the chain head and fetches each new block's receipts in one call
(`eth_getBlockReceipts`), resolving every waiter whose transaction is in that block.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

from devnet.core.rpc import Rpc


class ReceiptTimeout(TimeoutError):
    pass


class ReceiptWaiter:
    def __init__(self, rpc: Rpc, poll_interval: float = 0.01):
        self._rpc = rpc
        self._poll = poll_interval
        self._lock = threading.Lock()
        self._pending: dict[str, Future[dict[str, Any]]] = {}
        self._next_block: int | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = False

    def future(self, tx_hash: str) -> Future[dict[str, Any]]:
        """A future resolved with the receipt of `tx_hash` once it is in a block."""
        tx_hash = tx_hash.lower()
        with self._lock:
            fut = self._pending.get(tx_hash)
            if fut is None:
                fut = Future()
                self._pending[tx_hash] = fut
            if self._next_block is None:
                # Start following from the current head; older blocks are covered below.
                self._next_block = int(self._rpc.call("eth_blockNumber"), 16)
            self._ensure_thread()
        # Registered first, then looked up once: covers a block the poller already passed.
        receipt = self._rpc.receipt(tx_hash)
        if receipt is not None:
            self._resolve(tx_hash, receipt)
        self._wake.set()
        return fut

    def wait(self, tx_hash: str, timeout: float = 60.0) -> dict[str, Any]:
        try:
            return self.future(tx_hash).result(timeout)
        except TimeoutError as e:
            raise ReceiptTimeout(f"no receipt for {tx_hash} after {timeout} s") from e
        finally:
            with self._lock:
                fut = self._pending.get(tx_hash.lower())
                if fut is not None and fut.done():
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

    def _resolve(self, tx_hash: str, receipt: dict[str, Any]) -> None:
        with self._lock:
            fut = self._pending.get(tx_hash)
        if fut is not None and not fut.done():
            fut.set_result(receipt)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._follow, name="receipt-waiter", daemon=True)
            self._thread.start()

    def _follow(self) -> None:
        while not self._closed:
            with self._lock:
                waiting = any(not f.done() for f in self._pending.values())
            if not waiting:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                head = int(self._rpc.call("eth_blockNumber"), 16)
                assert self._next_block is not None
                while self._next_block <= head:
                    receipts = self._rpc.call("eth_getBlockReceipts", hex(self._next_block)) or []
                    for receipt in receipts:
                        self._resolve(receipt["transactionHash"].lower(), receipt)
                    self._next_block += 1
            except Exception:  # a transient RPC failure must not kill the poller
                time.sleep(self._poll * 10)
            time.sleep(self._poll)
