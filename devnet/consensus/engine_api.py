"""A client for geth's Engine API: JSON-RPC on the auth port with an HS256 JWT per request."""

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


class EngineClient:
    def __init__(self, url: str, secret: bytes, session: aiohttp.ClientSession):
        self.url = url
        self.secret = secret
        self.session = session
        self._ids = itertools.count(1)

    def _token(self) -> str:
        # geth accepts an `iat` within 60 s of its clock; a fresh token per call stays inside.
        return jwt.encode({"iat": int(time.time())}, self.secret, algorithm="HS256")

    async def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        headers = {"Authorization": f"Bearer {self._token()}"}
        async with self.session.post(self.url, json=body, headers=headers) as response:
            if response.status != 200:
                raise EngineError(f"{method}: HTTP {response.status}: {await response.text()}")
            answer = await response.json()
        if "error" in answer:
            raise EngineError(f"{method}: {answer['error'].get('message')} ({answer['error'].get('code')})")
        return answer["result"]


class RpcClient:
    """Plain JSON-RPC to geth's internal HTTP port (the front forwards raw bytes instead)."""

    def __init__(self, url: str, session: aiohttp.ClientSession):
        self.url = url
        self.session = session
        self._ids = itertools.count(1)

    async def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        async with self.session.post(self.url, json=body) as response:
            answer = await response.json()
        if "error" in answer:
            raise EngineError(f"{method}: {answer['error'].get('message')}")
        return answer["result"]
