"""HTTP client base: problem documents become ApiError; writes carry an Idempotency-Key and are
retried with the same key on 5xx or a dropped connection, which is safe by construction."""

from __future__ import annotations

import functools
import ssl
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

T = TypeVar("T")


#: One validator per answer type, built once (`list[Model]` would otherwise build one per call).
_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(type_: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(type_)
    if adapter is None:
        adapter = _adapters[type_] = TypeAdapter(type_)
    return adapter


class ApiError(RuntimeError):
    def __init__(self, status: int, problem: dict[str, Any]):
        self.status = status
        self.problem = problem
        self.field: str | None = problem.get("field")
        self.title: str = problem.get("title", "")
        super().__init__(
            f"HTTP {status}: {problem.get('title')}: {problem.get('detail')}"
            + (f" [{self.field}]" if self.field else "")
        )


#: Connections a client keeps open while idle (see `ServiceClient.__init__`).
IDLE_CONNECTIONS = 8


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS settings (certifi's CAs, or SSL_CERT_FILE/SSL_CERT_DIR), made once per
    process: each `httpx.Client()` would otherwise build its own, loading the CA bundle (24 ms
    of CPU here; 0.1 ms per client with this one)."""
    return httpx.create_ssl_context()


#: Makes the transport of each HTTP client made from now on (None: httpx's own, see `use_transport`).
_transport: Callable[[], httpx.BaseTransport] | None = None


def use_transport(make: Callable[[], httpx.BaseTransport] | None) -> None:
    """Send the requests of every HTTP client this process makes from now on (service clients,
    JSON-RPC) through a transport from `make` (one per client: closing a client closes its
    transport); None: httpx's own. The load generator's processes run on gevent and use
    geventhttpclient's (`loadtests/transport.py`)."""
    global _transport
    _transport = make


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps none: `extract_cookies` is a no-op."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class CookielessClient(httpx.Client):
    """httpx's client without cookies. Neither JSON-RPC nor these services set any, and httpx
    reads every response for them through a urllib request it builds each time: 8% of the load
    generator's CPU under load. Asking it for cookies is an error."""

    def __init__(self, *, cookies: Any = None, **options: Any):
        if cookies:
            raise ValueError("a CookielessClient keeps no cookies")
        super().__init__(**options)

    @property
    def cookies(self) -> httpx.Cookies:
        return _NoCookies()

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        if cookies:
            raise ValueError("a CookielessClient keeps no cookies")


def http_client(*, limits: httpx.Limits, **options: Any) -> httpx.Client:
    """A cookieless httpx client with this process's transport (`use_transport`), else httpx's
    own with `limits` and the shared TLS context."""
    if _transport is not None:
        return CookielessClient(transport=_transport(), **options)
    return CookielessClient(limits=limits, verify=tls_context(), **options)


class ServiceClient:
    def __init__(
        self, base_url: str, *, admin_token: str = "devnet-admin", timeout: float = 10.0, retries: int = 5
    ):
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        self.retries = retries
        #: seconds a request may take (connecting, each read, ...) unless it says otherwise
        self.timeout = timeout
        # Connections enough for the long polls a process keeps open at once, but few kept idle:
        # each request looks at every idle connection in the pool (httpcore asks each socket
        # whether the server closed it), the largest single cost of a Locust process in a profile.
        self._http = http_client(
            base_url=self.base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=IDLE_CONNECTIONS),
        )

    def close(self) -> None:
        self._http.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        delay = 0.05
        for attempt in range(self.retries + 1):
            try:
                reply = self._http.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
                )
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
            else:
                if reply.status_code < 500 or attempt == self.retries:
                    break
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        if reply.status_code >= 400:
            try:
                problem = reply.json()
            except ValueError:
                problem = {"title": reply.text}
            raise ApiError(reply.status_code, problem)
        return reply.json() if reply.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, params=params or None)

    def post(self, path: str, body: dict[str, Any], idempotency_key: str | None = None) -> Any:
        key = idempotency_key or str(uuid.uuid4())
        return self._send("POST", path, json=body, headers={"Idempotency-Key": key})

    def get_model(self, type_: type[T], path: str, **params: Any) -> T:
        """GET `path` and validate the answer as `type_` (a model, or e.g. `list[Model]`)."""
        answer: T = _adapter(type_).validate_python(self.get(path, **params))
        return answer

    def get_model_within(self, timeout: float, type_: type[T], path: str, /, **params: Any) -> T:
        """`get_model` with a timeout of its own, in seconds (a long poll's: its wait and more)."""
        answer: T = _adapter(type_).validate_python(
            self._send("GET", path, params=params or None, timeout=timeout)
        )
        return answer

    def post_model(
        self, type_: type[T], path: str, body: BaseModel | dict[str, Any], idempotency_key: str | None = None
    ) -> T:
        """POST `body` (a request model as its JSON, or a JSON object sent as given, for the
        service to judge) and validate the answer as `type_`."""
        payload = body.model_dump(mode="json", by_alias=True) if isinstance(body, BaseModel) else body
        answer: T = _adapter(type_).validate_python(self.post(path, payload, idempotency_key))
        return answer

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        return self._send(method, path, json=body, headers={"Authorization": f"Bearer {self.admin_token}"})

    def set_faults(self, **config: Any) -> Any:
        """latency_ms, error_rate_bps, webhook_drop_bps, webhook_duplicate_bps, seed."""
        return self._admin("PUT", "/admin/faults", config)

    def clear_faults(self) -> Any:
        return self._admin("DELETE", "/admin/faults")

    def subscribe(
        self,
        url: str,
        subjects: list[str] | None = None,
        events: list[str] | None = None,
        batch: bool = False,
    ) -> Any:
        """Webhooks to `url`: every event, or only those about `subjects` (the bank: accounts)
        and of the types in `events`; with `batch`, the due events together in one POST."""
        body: dict[str, Any] = {"url": url}
        if subjects is not None:
            body["subjects"] = subjects
        if events is not None:
            body["events"] = events
        if batch:
            body["batch"] = True
        return self._admin("POST", "/admin/subscriptions", body)

    def pending_webhooks(self) -> int:
        return int(self._admin("GET", "/admin/webhooks/pending")["pending"])
