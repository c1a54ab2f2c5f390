"""Wallets with local nonce management, pooled and split into lanes.

Each wallet hands out nonces from a local counter under a lock, so many threads can send from
many wallets at once and no two transactions ever get the same nonce. Lanes split a pool into
disjoint groups (one per pytest-xdist worker or Locust user), so parallel processes never
share a sender at all.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence

from eth_account.signers.local import LocalAccount

from devnet.core.rpc import Rpc
from devnet.core.signing import FastSigner


class Wallet:
    """One per key per process (use `Wallet.of`), so every sender shares one nonce counter."""

    _registry: dict[str, Wallet] = {}  # noqa: RUF012 - process-wide on purpose
    _registry_lock = threading.Lock()

    @classmethod
    def of(cls, account: LocalAccount) -> Wallet:
        with cls._registry_lock:
            wallet = cls._registry.get(account.address)
            if wallet is None:
                wallet = cls._registry[account.address] = cls(account)
            return wallet

    #: node URL -> the hash of its chain's block 1 when a client for it was made (None: no
    #: block 1 yet): a chain's identity, since devnet chains share their genesis
    _chains: dict[str, str | None] = {}  # noqa: RUF012 - process-wide on purpose

    @classmethod
    def see_node(cls, url: str, block_one: str | None) -> None:
        """A client for the node at `url` was made: if another chain answered there before (a
        node started by another process on a port this one used), forget the counters for it."""
        with cls._registry_lock:
            known = url in cls._chains
            changed = known and cls._chains[url] != block_one
            cls._chains[url] = block_one
        if changed:
            cls.forget_node(url)

    @classmethod
    def forget_node(cls, url: str) -> None:
        """A node (re)started at `url`: every wallet's counter for it is stale. A new chain on a
        port an earlier one had (the same URL) starts at nonce 0, and a restarted node may have
        lost its pool; a counter kept from before would send past the node's next nonce, and
        such a transaction waits in the pool's queue for ever."""
        with cls._registry_lock:
            wallets = list(cls._registry.values())
            cls._chains.pop(url, None)
        for wallet in wallets:
            with wallet._lock:
                wallet._nonces.pop(url, None)

    def __init__(self, account: LocalAccount):
        self.account = account
        self.address: str = account.address
        self.signer = FastSigner(bytes(account.key))
        # Per node URL: the same key may be used on several chains (geth and anvil in one run).
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Wallet({self.address})"

    def next_nonce(self, rpc: Rpc) -> int:
        with self._lock:
            nonce = self._nonces.get(rpc.url)
            if nonce is None:
                nonce = int(rpc.call("eth_getTransactionCount", self.address, "pending"), 16)
            self._nonces[rpc.url] = nonce + 1
            return nonce

    def resync(self, rpc: Rpc) -> None:
        """Forget the local counter; the next nonce comes from the node's pending state."""
        with self._lock:
            self._nonces[rpc.url] = int(rpc.call("eth_getTransactionCount", self.address, "pending"), 16)


class WalletPool:
    def __init__(self, accounts: Sequence[LocalAccount] | Sequence[Wallet]):
        self.wallets: list[Wallet] = [a if isinstance(a, Wallet) else Wallet.of(a) for a in accounts]
        self._cycle = itertools.cycle(self.wallets) if self.wallets else None
        self._cycle_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.wallets)

    def __iter__(self) -> Iterator[Wallet]:
        return iter(self.wallets)

    def __getitem__(self, i: int) -> Wallet:
        return self.wallets[i]

    def next(self) -> Wallet:
        """Round-robin over the pool (thread-safe)."""
        if self._cycle is None:
            raise IndexError("empty wallet pool")
        with self._cycle_lock:
            return next(self._cycle)

    def lane(self, index: int, count: int) -> WalletPool:
        """The `index`-th of `count` disjoint, contiguous slices of this pool."""
        if not 0 <= index < count:
            raise ValueError(f"lane {index} out of range for {count} lanes")
        size = len(self.wallets) // count
        if size == 0:
            raise ValueError(f"{len(self.wallets)} wallets cannot make {count} lanes")
        return WalletPool(self.wallets[index * size : (index + 1) * size])

    def take(self, n: int) -> tuple[list[Wallet], WalletPool]:
        """Split off the first `n` wallets (e.g. for roles) and the rest as a pool."""
        if n > len(self.wallets):
            raise ValueError(f"asked for {n} wallets, the pool has {len(self.wallets)}")
        return self.wallets[:n], WalletPool(self.wallets[n:])
