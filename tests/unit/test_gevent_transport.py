"""The load generator's transport (geventhttpclient under httpx) answers as httpx's own does:
same status, headers and body, and httpx's errors for a timeout, a refused connection and a
connection closed before its answer (what the flows' retries catch)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from devnet.core import http as core_http
from devnet.core.http import ApiError, ServiceClient
from devnet.core.rpc import Rpc
from loadtests.transport import GeventTransport


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo", self.headers.get("X-Probe", ""))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(3.0)
        if self.path.startswith("/drop"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path.startswith("/missing"):
            problem = {"title": "No such thing", "status": 404, "detail": "", "field": "path.id"}
            self._answer(404, json.dumps(problem).encode(), "application/problem+json")
            return
        self._answer(200, json.dumps({"path": self.path}).encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        payload = json.loads(body)
        if isinstance(payload, dict) and payload.get("method") == "eth_chainId":
            self._answer(200, json.dumps({"jsonrpc": "2.0", "id": payload["id"], "result": "0x61"}).encode())
            return
        self._answer(201, json.dumps({"got": payload, "bytes": len(body)}).encode())


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _both(server: str, method: str, path: str, **kwargs: object) -> list[tuple[int, str, str, bytes]]:
    answers = []
    for transport in (None, GeventTransport()):
        with httpx.Client(base_url=server, transport=transport) as client:
            reply = client.request(method, path, headers={"X-Probe": "p-1"}, **kwargs)  # type: ignore[arg-type]
            answers.append(
                (reply.status_code, reply.headers["content-type"], reply.headers["x-echo"], reply.content)
            )
    return answers


def test_answers_match_httpx_own_transport(server: str) -> None:
    big = {"blob": "x" * 1_000_000}
    for method, path, kwargs in (
        ("GET", "/things?limit=3&after=a%20b", {}),
        ("POST", "/payments", {"json": {"amount": 17_480_00, "currency": "KGS"}}),
        ("POST", "/big", {"json": big}),
        ("GET", "/missing/7", {}),
    ):
        ours, theirs = _both(server, method, path, **kwargs)
        assert ours == theirs, (method, path)


def test_errors_are_httpx_errors(server: str) -> None:
    with httpx.Client(base_url=server, transport=GeventTransport(), timeout=10.0) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/slow", timeout=0.2)  # the request's own timeout, as a long poll gives
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.get("/drop")
        assert client.get("/after-errors").status_code == 200  # the pool recovers
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with httpx.Client(transport=GeventTransport()) as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{closed_port}/")


def test_the_project_clients_use_the_chosen_transport(server: str) -> None:
    """`use_transport` reaches the service clients and the JSON-RPC client, and their answers
    and problems read the same."""
    core_http.use_transport(GeventTransport)
    try:
        rpc, service = Rpc(server + "/"), ServiceClient(server)
        try:
            assert isinstance(rpc._client._transport, GeventTransport)
            assert isinstance(service._http._transport, GeventTransport)
            assert rpc.call("eth_chainId") == "0x61"
            assert service.get("/things") == {"path": "/things"}
            with pytest.raises(ApiError) as e:
                service.get("/missing/1")
            assert (e.value.status, e.value.field) == (404, "path.id")
        finally:
            rpc.close()
            service.close()
    finally:
        core_http.use_transport(None)
    plain = Rpc(server + "/")
    try:
        assert not isinstance(plain._client._transport, GeventTransport)
    finally:
        plain.close()
