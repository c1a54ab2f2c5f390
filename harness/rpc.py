"""A thin JSON-RPC client over httpx: single calls and batches, thread-safe, pooled."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import httpx


class RpcError(RuntimeError):
    def __init__(self, method: str, error: dict[str, Any]):
        self.method = method
        self.code = error.get("code")
        self.message = str(error.get("message", ""))
        self.data = error.get("data")
        super().__init__(f"{method}: {self.message} (code {self.code})")


class Rpc:
    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url
        self._client = httpx.Client(
            timeout=timeout, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
        )
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()

    def _next_id(self) -> int:
        with self._ids_lock:
            return next(self._ids)

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": list(params)}
        reply = self._client.post(self.url, json=body)
        reply.raise_for_status()
        payload = reply.json()
        if "error" in payload:
            raise RpcError(method, payload["error"])
        return payload["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any | RpcError]:
        """One HTTP request for many calls; each result is a value or an RpcError (not raised)."""
        if not calls:
            return []
        first = self._next_id()
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)
        ]
        reply = self._client.post(self.url, json=body)
        reply.raise_for_status()
        by_id = {item["id"]: item for item in reply.json()}
        results: list[Any | RpcError] = []
        for i, (method, _) in enumerate(calls):
            item = by_id[first + i]
            results.append(RpcError(method, item["error"]) if "error" in item else item["result"])
        return results

    def close(self) -> None:
        self._client.close()
