"""A real HTTP endpoint that receives signed webhooks, checks them and records them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devnet.core.wait import wait_until
from devnet.core.webhooks import ID_HEADER, SIGNATURE_HEADER, SignatureRefused, check_signature


class WebhookSink:
    def __init__(self, secret: str):
        self.secret = secret
        self.events: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        #: each delivery accepted: ("batch", its events) or ("event", 1)
        self.deliveries: list[tuple[str, int]] = []
        #: signed deliveries answered with `answer` other than 200
        self.refused = 0
        #: HTTP status to answer with (e.g. 500 to play a receiver that is down)
        self.answer = 200
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    check_signature(sink.secret, self.headers.get(SIGNATURE_HEADER), body)
                    message = json.loads(body)
                    # a batch (a subscription with `batch`) or one event
                    events = message.get("events", [message])
                    assert ",".join(e["id"] for e in events) == self.headers.get(ID_HEADER)
                except (SignatureRefused, AssertionError, ValueError, KeyError, TypeError) as e:
                    with sink._lock:
                        sink.rejected.append(str(e))
                    self.send_response(401)
                    self.end_headers()
                    return
                status = sink.answer
                with sink._lock:
                    if status == 200:
                        sink.events.extend(events)
                        sink.deliveries.append(("batch" if "events" in message else "event", len(events)))
                    else:
                        sink.refused += 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["type"] == type_]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        def matching() -> tuple[list[dict[str, Any]]] | None:
            with self._lock:
                events = list(self.events)
            return (events,) if predicate(events) else None  # a tuple: true even with no events

        try:
            return wait_until(matching, timeout, "webhooks")[0]
        except TimeoutError as e:
            raise TimeoutError(f"{e}; got {[ev['type'] for ev in self.events]}") from None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
