"""The HTTP clients this project makes (`devnet.core.http.http_client`) keep no cookies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from devnet.core.http import http_client


class _SetsCookies(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = (self.headers.get("Cookie") or "none").encode()
        self.send_response(200)
        self.send_header("Set-Cookie", "session=abc; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _SetsCookies)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_cookie_a_server_sets_is_never_sent_back(server: str) -> None:
    with http_client(limits=httpx.Limits()) as client:
        first = client.get(f"{server}/a")
        assert first.headers["set-cookie"].startswith("session=abc")  # the answer is untouched
        assert client.get(f"{server}/b").text == "none"
        assert len(client.cookies) == 0
    with httpx.Client() as plain:  # what httpx's own client would have done
        plain.get(f"{server}/a")
        assert plain.get(f"{server}/b").text == "session=abc"


def test_asking_for_cookies_is_refused() -> None:
    with pytest.raises(ValueError, match="no cookies"):
        http_client(limits=httpx.Limits(), cookies={"session": "abc"})
