"""The one readiness check (devnet.runtime.readiness): what it asks, what it reports, and what
a wait that timed out says. HTTP is answered by httpx's mock transport; the one process started is `sleep`."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from devnet.components import SPECS, node_readiness
from devnet.node.process import StartError, free_port
from devnet.runtime.base import Component
from devnet.runtime.local import launch
from devnet.runtime.readiness import Probe, Readiness

URL = "http://127.0.0.1:8000"


def _client(answer: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(answer))


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def test_a_service_is_ready_when_its_health_answers_200() -> None:
    seen: list[str] = []

    def health(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        return httpx.Response(200, json={"status": "ok"})

    check = SPECS["bank"].readiness.check(URL, _client(health))
    assert check.ok and check.answer == "HTTP 200"
    assert seen == [f"GET {URL}/health"]


def test_a_service_answering_otherwise_is_not_ready_and_says_what_it_answered() -> None:
    check = SPECS["issuer"].readiness.check(URL, _client(lambda _r: httpx.Response(503, text="starting up")))
    assert not check.ok and check.answer == "HTTP 503 starting up"
    refused = SPECS["issuer"].readiness.check(URL, _client(_refused))
    assert not refused.ok and refused.answer == "no connection ([Errno 111] Connection refused)"


def test_a_long_answer_is_cut_short() -> None:
    check = Readiness.http("x", "/health").check(
        URL, _client(lambda _r: httpx.Response(500, text="y" * 1000))
    )
    assert not check.ok and len(check.answer) < 220 and check.answer.endswith("...")


def _rpc(result: object = None, error: object = None) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"jsonrpc": "2.0", "id": 1, **({"error": error} if error else {"result": result})}
        assert b'"method":"eth_chainId"' in request.content.replace(b" ", b"")
        return httpx.Response(200, json=body)

    return _client(answer)


def test_the_node_is_ready_when_it_answers_the_profiles_chain_id() -> None:
    readiness = node_readiness("geth", 714)
    assert readiness.what == "geth (chain id 714)"
    assert readiness.check(URL, _rpc("0x2ca")).ok
    other = readiness.check(URL, _rpc("0x61"))
    assert not other.ok and other.answer == "0x61 (expected 0x2ca)"
    failing = readiness.check(URL, _rpc(error={"code": -32601, "message": "no such method"}))
    assert not failing.ok and "no such method" in failing.answer
    not_rpc = readiness.check(URL, _client(lambda _r: httpx.Response(404, text="Not Found")))
    assert not not_rpc.ok and not_rpc.answer == "HTTP 404, not JSON-RPC: Not Found"


def test_a_wait_that_timed_out_says_what_it_waited_for_and_the_last_answer() -> None:
    probe = Probe(SPECS["custodian"].readiness, URL, _client(_refused))
    assert probe.waited_for() == f"GET {URL}/health to answer 200; last answer: none (never asked)"
    assert probe() is False
    assert probe.waited_for() == (
        f"GET {URL}/health to answer 200; last answer: no connection ([Errno 111] Connection refused)"
    )
    node = Probe(node_readiness("anvil", 97), URL, _rpc("0x2ca"))
    assert node() is False
    assert node.waited_for() == f"eth_chainId at {URL} to answer 0x61; last answer: 0x2ca (expected 0x61)"


def test_a_readiness_check_is_one_kind_of_question() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Readiness(what="x")
    with pytest.raises(ValidationError, match="exactly one"):
        Readiness(what="x", http_path="/health", rpc_method="eth_chainId")


def test_a_local_start_that_times_out_says_what_it_waited_for_with_the_log_tail(tmp_path: Path) -> None:
    """The local runtime's wait, on a program that runs but never answers (no node, no service)."""
    never = Component(
        name="stuck",
        image="-",
        port=8000,
        readiness=Readiness.http("stuck service", "/health", timeout_s=1),
        argv=lambda _place: ["sh", "-c", "echo listening on nothing; exec sleep 30"],
        log_path=tmp_path / "stuck.log",
    )
    with pytest.raises(StartError) as raised:
        launch(never, port=free_port())
    message = str(raised.value)
    assert re.search(
        r"^stuck was not ready after 1 s: waited for GET http://127\.0\.0\.1:\d+/health to answer 200; "
        r"last answer: no connection",
        message,
    ), message
    assert message.endswith("listening on nothing")


def test_bsc_is_ready_once_it_answers_its_chain_id_and_has_sealed_block_1() -> None:
    """bsc seals on its own clock: answering is not enough, block 1 (the system contracts'
    initialisation) must be there too."""
    asked: list[tuple[str, list[object]]] = []

    def node(sealed: bool) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            call = json.loads(request.content)
            asked.append((call["method"], call["params"]))
            if call["method"] == "eth_chainId":
                return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": "0x2ca"})
            block = {"number": "0x1"} if sealed else None
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": block})

        return _client(answer)

    readiness = node_readiness("bsc", 714)
    waiting = readiness.check(URL, node(sealed=False))
    assert not waiting.ok and waiting.answer == "null (expected a result)"
    assert asked == [("eth_chainId", []), ("eth_getBlockByNumber", ["0x1", False])]
    assert readiness.check(URL, node(sealed=True)).ok
    assert "eth_getBlockByNumber(0x1, False)" in readiness.target(URL)
    assert node_readiness("geth", 714).also is None


def test_a_local_start_runs_after_ready_and_a_failure_there_stops_the_process(tmp_path: Path) -> None:
    """`after_ready` (bsc: the StakeHub registration) runs with the URL once the component is
    ready; when it fails, the start fails and leaves nothing running."""
    seen: list[str] = []

    def fail(url: str) -> None:
        seen.append(url)
        raise StartError("registration refused")

    served = Component(
        name="web",
        image="-",
        port=8000,
        readiness=Readiness.http("web", "/", timeout_s=20),
        argv=lambda place: [sys.executable, "-m", "http.server", str(place.port), "--bind", place.host],
        log_path=tmp_path / "web.log",
        after_ready=fail,
    )
    port = free_port()
    with pytest.raises(StartError, match="registration refused"):
        launch(served, port=port)
    assert seen == [f"http://127.0.0.1:{port}"]
    assert not Readiness.http("web", "/").check(seen[0]).ok
