"""Clients for geth's JSON-RPC: its Engine API (auth port, an HS256 JWT per request) and its
plain HTTP port."""

from __future__ import annotations

import itertools
import secrets
import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt


class EngineError(RuntimeError):
    pass


def write_jwt_secret(path: Path) -> Path:
    """A fresh 32-byte secret in the hex form geth's `--authrpc.jwtsecret` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("0x" + secrets.token_hex(32) + "\n")
        path.chmod(0o600)
    return path


def read_jwt_secret(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip().removeprefix("0x"))


class RpcClient:
    """JSON-RPC to geth's internal HTTP port (the front forwards raw bytes instead)."""

    def __init__(self, url: str, session: aiohttp.ClientSession):
        self.url = url
        self.session = session
        self._ids = itertools.count(1)

    def _headers(self) -> dict[str, str]:
        return {}

    async def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        async with self.session.post(self.url, json=body, headers=self._headers()) as response:
            if response.status != 200:
                raise EngineError(f"{method}: HTTP {response.status}: {await response.text()}")
            answer = await response.json()
        if "error" in answer:
            raise EngineError(f"{method}: {answer['error'].get('message')} ({answer['error'].get('code')})")
        return answer["result"]


class EngineClient(RpcClient):
    """The same, on geth's auth port: each call carries a fresh HS256 JWT."""

    def __init__(self, url: str, secret: bytes, session: aiohttp.ClientSession):
        super().__init__(url, session)
        self.secret = secret

    def _headers(self) -> dict[str, str]:
        # geth accepts an `iat` within 60 s of its clock; a fresh token per call stays inside.
        return {
            "Authorization": f"Bearer {jwt.encode({'iat': int(time.time())}, self.secret, algorithm='HS256')}"
        }
