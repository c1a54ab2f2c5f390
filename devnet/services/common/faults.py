"""Fault injection for tests: added latency, a share of 5xx answers, dropped or duplicated
webhooks. Set through the token-protected /admin/faults endpoint."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

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

    def webhook_faults(self) -> tuple[bool, bool]:
        return self._hit(self.config.webhook_drop_bps), self._hit(self.config.webhook_duplicate_bps)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not injects_faults(request.url.path):
            return await call_next(request)
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if self._hit(self.config.error_rate_bps):
            return problem_response(Problem(503, "Injected fault", "fault injection answered 503; retry"))
        return await call_next(request)
