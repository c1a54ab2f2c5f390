"""Fault injection for tests: added latency, a share of 5xx answers, dropped or duplicated
webhooks. Set through the token-protected /admin/faults endpoint."""

from __future__ import annotations

import asyncio
import random
import threading

from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from devnet.services.common.problems import Problem, problem_response

BPS = 10_000


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(default=0, ge=0, le=60_000)
    #: Share of API requests answered 503, in basis points (10000 = all).
    error_rate_bps: int = Field(default=0, ge=0, le=BPS)
    #: Share of webhook delivery attempts silently lost (the sender retries).
    webhook_drop_bps: int = Field(default=0, ge=0, le=BPS)
    #: Share of webhook deliveries sent twice.
    webhook_duplicate_bps: int = Field(default=0, ge=0, le=BPS)
    seed: int | None = None


def injects_faults(path: str) -> bool:
    """Whether fault injection touches requests to `path`: all but the admin endpoints and health."""
    return not (path.startswith("/admin") or path == "/health")


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.config = FaultConfig()
        self._rng = random.Random()

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def _hit(self, bps: int) -> bool:
        if bps <= 0:
            return False
        with self._lock:
            return self._rng.randrange(BPS) < bps

    def hit(self, bps: int) -> bool:
        """True for a share `bps` (basis points) of calls."""
        return self._hit(bps)

    def webhook_faults(self) -> tuple[bool, bool]:
        return self._hit(self.config.webhook_drop_bps), self._hit(self.config.webhook_duplicate_bps)


class FaultsMiddleware:
    """Injects the configured faults into API requests. A plain ASGI middleware: with no fault
    set, a request costs one attribute check here (Starlette's BaseHTTPMiddleware wrapped every
    request and response in extra tasks and streams: ~20% of the bank's CPU under load)."""

    def __init__(self, app: ASGIApp, faults: Faults):
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        config = self.faults.config
        if scope["type"] != "http" or not (config.latency_ms or config.error_rate_bps):
            await self.app(scope, receive, send)
            return
        if not injects_faults(scope["path"]):
            await self.app(scope, receive, send)
            return
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        if self.faults.hit(config.error_rate_bps):
            response = problem_response(Problem(503, "Injected fault", "fault injection answered 503; retry"))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
