"""When is a component ready: one check, used by both runtimes while a component starts or
restarts, and by `devnet status` to tell whether it is healthy now.

A `Readiness` says what it waits for (an HTTP path answering 200, or a JSON-RPC method
answering, optionally with a given result), for how long, and in words; `check(url)` asks
once and says what the component answered. A `Probe` asks repeatedly and keeps the last
answer, so a start that times out can say what it waited for and what it got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, model_validator

#: How much of an unexpected answer's body a message quotes.
ANSWER_CHARS = 200


@dataclass(frozen=True)
class Check:
    """One readiness check: whether it passed, and what the component answered (or why
    nothing was answered: connection refused, timed out, ...)."""

    ok: bool
    answer: str


class Readiness(BaseModel):
    """How to tell a component is ready, at its (host) URL.

    Exactly one of `http_path` (GET <url><path> answers 200) and `rpc_method` (a JSON-RPC call
    to <url> answers a result; `rpc_result`, when set, is the result it must be)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The component in words, for messages: "the bank service", "geth (chain id 714)".
    what: str
    http_path: str | None = None
    rpc_method: str | None = None
    rpc_result: str | None = None
    #: The JSON-RPC call's parameters.
    rpc_params: tuple[Any, ...] = ()
    #: A null result does not pass (e.g. `eth_getBlockByNumber` of a block not made yet).
    rpc_non_null: bool = False
    #: A further check that must pass too, asked once this one passes.
    also: Readiness | None = None
    #: How long a start (or restart) may take to pass.
    timeout_s: float = 60.0
    #: How long one check waits for an answer.
    check_timeout_s: float = 2.0

    @model_validator(mode="after")
    def _one_kind(self) -> Readiness:
        if (self.http_path is None) == (self.rpc_method is None):
            raise ValueError("a readiness check is an HTTP path or a JSON-RPC method, exactly one")
        return self

    @classmethod
    def http(cls, what: str, path: str, timeout_s: float = 60.0) -> Readiness:
        return cls(what=what, http_path=path, timeout_s=timeout_s)

    @classmethod
    def rpc(cls, what: str, method: str, result: str | None = None, timeout_s: float = 60.0) -> Readiness:
        return cls(what=what, rpc_method=method, rpc_result=result, timeout_s=timeout_s)

    def target(self, url: str) -> str:
        """What a check asks, in words."""
        if self.http_path is not None:
            target = f"GET {url}{self.http_path} to answer 200"
        else:
            params = ", ".join(map(str, self.rpc_params))
            call = f"{self.rpc_method}({params})" if self.rpc_params else self.rpc_method
            expected = f" {self.rpc_result}" if self.rpc_result is not None else " a result"
            target = f"{call} at {url} to answer{expected}"
        return target if self.also is None else f"{target}, and {self.also.target(url)}"

    def check(self, url: str, client: httpx.Client | None = None) -> Check:
        """Ask once (then `also`, if this passes). `client`: the HTTP client to ask with
        (default: a fresh connection)."""
        first = self._check_one(url, client)
        if not first.ok or self.also is None:
            return first
        return self.also.check(url, client)

    def _check_one(self, url: str, client: httpx.Client | None) -> Check:
        try:
            if self.http_path is not None:
                response = _send(client, "GET", f"{url}{self.http_path}", None, self.check_timeout_s)
                if response.status_code == 200:
                    return Check(True, "HTTP 200")
                return Check(False, f"HTTP {response.status_code} {_body(response)}".rstrip())
            body = {"jsonrpc": "2.0", "id": 1, "method": self.rpc_method, "params": list(self.rpc_params)}
            response = _send(client, "POST", url, body, self.check_timeout_s)
        except httpx.HTTPError as e:
            return Check(False, _http_error(e))
        return self._rpc_answer(response)

    def _rpc_answer(self, response: httpx.Response) -> Check:
        try:
            reply: Any = response.json()
        except ValueError:
            return Check(False, f"HTTP {response.status_code}, not JSON-RPC: {_body(response)}")
        if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
            return Check(False, f"HTTP {response.status_code}, not JSON-RPC: {_body(response)}")
        if "error" in reply:
            return Check(False, f"error {reply['error']}"[:ANSWER_CHARS])
        result = reply["result"]
        if result is None and self.rpc_non_null:
            return Check(False, "null (expected a result)")
        if self.rpc_result is not None and str(result).lower() != self.rpc_result.lower():
            return Check(False, f"{result} (expected {self.rpc_result})")
        return Check(True, str(result))


class Probe:
    """Checks one URL again and again (a `ready` callable for a wait), keeping the last answer."""

    def __init__(self, readiness: Readiness, url: str, client: httpx.Client | None = None):
        self.readiness = readiness
        self.url = url
        self.client = client
        self.last: Check | None = None

    def __call__(self) -> bool:
        self.last = self.readiness.check(self.url, self.client)
        return self.last.ok

    def waited_for(self) -> str:
        """What it waited for and the last answer, for a wait that timed out."""
        answer = self.last.answer if self.last is not None else "none (never asked)"
        return f"{self.readiness.target(self.url)}; last answer: {answer}"


def _send(
    client: httpx.Client | None, method: str, url: str, body: dict[str, Any] | None, timeout: float
) -> httpx.Response:
    if client is None:
        return httpx.request(method, url, json=body, timeout=timeout)
    return client.request(method, url, json=body, timeout=timeout)


def _body(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text if len(text) <= ANSWER_CHARS else text[:ANSWER_CHARS] + "..."


def _http_error(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return f"no connection ({error})" if str(error) else "no connection"
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    return f"{type(error).__name__}: {error}"
