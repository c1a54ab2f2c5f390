"""httpx's requests sent by geventhttpclient, the engine of Locust's FastHttpUser: a C parser
and gevent's own sockets, for the load generator's processes (gevent-patched, one OS thread).

The clients keep httpx's API and errors (the harness and its flows are written against httpx:
retries on `httpx.TransportError`, per-request timeouts for long polls); only the part under
`httpx.BaseTransport` changes. `tests/unit/test_gevent_transport.py` holds it to httpx's own
transport, answer for answer.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import gevent
import httpx
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPParseError

#: Connections per origin: a load process's users share them (each request holds one only
#: while it is in flight; a long poll holds one for its wait).
CONCURRENCY = 200


class GeventTransport(httpx.BaseTransport):
    def __init__(self, concurrency: int = CONCURRENCY, connect_timeout: float = 10.0):
        self.concurrency = concurrency
        self.connect_timeout = connect_timeout
        self._origins: dict[tuple[str, str, int], HTTPClient] = {}
        self._lock = threading.Lock()

    def _client(self, url: httpx.URL) -> HTTPClient:
        port = url.port or (443 if url.scheme == "https" else 80)
        origin = (url.scheme, url.host, port)
        with self._lock:
            client = self._origins.get(origin)
            if client is None:
                client = self._origins[origin] = HTTPClient(
                    url.host,
                    port,
                    ssl=url.scheme == "https",
                    concurrency=self.concurrency,
                    connection_timeout=self.connect_timeout,
                    # each request's own read timeout applies (see `handle_request`)
                    network_timeout=None,
                )
            return client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        target = request.url.raw_path.decode("ascii")
        body = request.read()
        with _as_httpx_errors(request), gevent.Timeout(timeouts.get("read"), socket.timeout):
            reply = self._client(request.url).request(request.method, target, body=body, headers=headers)
            try:
                content = reply.read()
            finally:
                reply.release()
        return httpx.Response(
            reply.status_code, headers=list(reply.items()), content=content, request=request
        )

    def close(self) -> None:
        with self._lock:
            clients, self._origins = list(self._origins.values()), {}
        for client in clients:
            client.close()


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """geventhttpclient's and the socket's errors, as httpx names them (what callers catch)."""
    try:
        yield
    except TimeoutError as e:
        raise httpx.ReadTimeout(str(e) or "timed out", request=request) from e
    except HTTPParseError as e:  # also a connection closed before its answer (HTTPConnectionClosed)
        raise httpx.RemoteProtocolError(str(e), request=request) from e
    except ConnectionRefusedError as e:
        raise httpx.ConnectError(str(e), request=request) from e
    except OSError as e:
        raise httpx.ReadError(str(e), request=request) from e
