"""A thin JSON-RPC client over httpx: single calls and batches, thread-safe, pooled."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import httpx

from devnet.core.http import http_client

#: The connection broke under a request: the server had closed it while it sat idle, or
#: httpcore's sync pool closed it from another thread (a connection it saw idle just as another
#: thread began a request on it: encode/httpcore#1110, seen here as "[Errno 9] Bad file
#: descriptor" with 16 threads on one client). The request is sent once more, on another
#: connection (the broken one has left the pool). Safe for JSON-RPC: reads repeat, and a
#: transaction sent twice is the same signed bytes (the node answers "already known" or, once
#: it is mined, "nonce too low": `Chain.submit` then asks the node whether it has it).
RETRY_ON = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


class RpcError(RuntimeError):
    def __init__(self, method: str, error: dict[str, Any]):
        self.method = method
        self.code = error.get("code")
        self.message = str(error.get("message", ""))
        self.data = error.get("data")
        super().__init__(f"{method}: {self.message} (code {self.code})")


#: geth's answer for an unknown transaction while its indexer catches up with a new head; it
#: means "not found yet", so a receipt lookup reads it as no receipt.
TX_INDEXING = "transaction indexing is in progress"


class Rpc:
    def __init__(self, url: str, timeout: float = 30.0, connections: int = 8):
        """`connections`: the pool's size. Each request looks at every idle connection in it
        (httpcore asks each socket whether the server closed it): with 64, those looks were a
        sixth of a Locust process's CPU at 16 flows/s. Requests are short, so a few connections
        serve many threads or greenlets; a client that asks often and alone, as the block
        follower does, gets a small pool of its own. In a process that sends through another
        transport (`devnet.core.http.use_transport`: the load generator's gevent one), that
        transport's own pool applies instead: it has no such cost per idle connection."""
        self.url = url
        self._client = http_client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()

    def _next_id(self) -> int:
        with self._ids_lock:
            return next(self._ids)

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": list(params)}
        reply = self._post(body)
        reply.raise_for_status()
        payload = reply.json()
        if "error" in payload:
            raise RpcError(method, payload["error"])
        return payload["result"]

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The transaction's receipt, or None while it is not mined (or not indexed yet)."""
        try:
            receipt: dict[str, Any] | None = self.call("eth_getTransactionReceipt", tx_hash)
        except RpcError as e:
            if TX_INDEXING in e.message:
                return None
            raise
        return receipt

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any | RpcError]:
        """One HTTP request for many calls; each result is a value or an RpcError (not raised)."""
        if not calls:
            return []
        first = self._next_id()
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)
        ]
        reply = self._post(body)
        reply.raise_for_status()
        by_id = {item["id"]: item for item in reply.json()}
        results: list[Any | RpcError] = []
        for i, (method, _) in enumerate(calls):
            item = by_id[first + i]
            results.append(RpcError(method, item["error"]) if "error" in item else item["result"])
        return results

    def _post(self, body: Any) -> httpx.Response:
        try:
            return self._client.post(self.url, json=body)
        except RETRY_ON:
            return self._client.post(self.url, json=body)

    def close(self) -> None:
        self._client.close()
