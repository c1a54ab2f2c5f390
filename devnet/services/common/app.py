"""The app factory every service uses: problems, faults, admin endpoints, webhook dispatch,
background workers, health."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Protocol
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from devnet.services.common.changes import ChangeFeed
from devnet.services.common.db import Database
from devnet.services.common.faults import FaultConfig, Faults, FaultsMiddleware, injects_faults
from devnet.services.common.problems import (
    Problem,
    document_problems,
    install_problem_handlers,
    problem_responses,
)
from devnet.services.common.settings import ServiceSettings
from devnet.services.common.webhooks import Dispatcher, pending_deliveries, subscribe

#: The admin endpoints' security scheme in the OpenAPI schema: `Authorization: Bearer <token>`.
admin_bearer = HTTPBearer(
    scheme_name="AdminToken",
    description="The service's `admin_token` setting (`devnet-admin` unless configured).",
    auto_error=False,
)


class Worker(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Health(BaseModel):
    status: str = Field(description='"ok" once the service answers')
    service: str


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=500, pattern=r"^https?://", description="an http(s) URL that receives the webhooks"
    )
    subjects: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        default=None,
        max_length=100,
        description="only events about these subjects (the bank: account numbers, as a bank "
        "notifies a customer of its own accounts); every event when absent",
    )
    events: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        default=None,
        max_length=50,
        description="only events of these types (e.g. `account.credited`: a bank customer that "
        "wants credit notifications only); every type when absent",
    )
    batch: bool = Field(
        default=False,
        description="deliver the due events together: one POST whose body is "
        '`{"events": [...]}` (up to 50, oldest first), as a camt.054 notification carries '
        "many entries; a retry goes alone, as a single event. Default: one POST per event",
    )

    @field_validator("url")
    @classmethod
    def _a_url(cls, url: str) -> str:
        try:  # the dispatcher would retry a URL it cannot even parse forever
            parts = urlsplit(url)
            host, _port = parts.hostname, parts.port
        except ValueError as e:
            raise ValueError(f"not a URL: {e}") from e
        if not host:
            raise ValueError("not a URL: no host")
        return url


class SubscriptionOut(BaseModel):
    url: str
    subjects: list[str] | None = None
    events: list[str] | None = None
    batch: bool = False


class PendingWebhooks(BaseModel):
    pending: int = Field(description="webhook deliveries not yet acknowledged by their receiver")


class ServiceContext:
    """What a service's routes and workers share: settings, store, faults, dispatcher, and the
    change feed its long polls wait on."""

    def __init__(self, name: str, settings: ServiceSettings):
        self.name = name
        self.settings = settings
        self.db = Database(settings.db_url(name))
        self.faults = Faults()
        self.dispatcher = Dispatcher(
            self.db,
            settings.webhook_secret,
            settings.webhook_retry_base_s,
            settings.webhook_retry_max_s,
            faults=self.faults.webhook_faults,
        )
        self.workers: list[Worker] = [self.dispatcher]
        self.changes = ChangeFeed()

    def require_admin(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)]
    ) -> None:
        """A dependency: the request must carry `Authorization: Bearer <admin_token>` (401 otherwise)."""
        token = self.settings.admin_token
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
            raise Problem(401, "Admin token required", field="header.Authorization")

    def admin_router(self) -> APIRouter:
        """A router for `/admin/...` endpoints: bearer token required, 401 documented."""
        return APIRouter(
            prefix="/admin",
            tags=["admin"],
            dependencies=[Depends(self.require_admin)],
            responses=problem_responses(401),
        )


def create_service_app(
    ctx: ServiceContext,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    on_ready: Callable[[ServiceContext], None] = lambda _ctx: None,
) -> FastAPI:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request it sends at INFO (the issuer's RPC calls, the webhook deliveries):
    # one line each is noise in the logs and a few percent of a service's CPU under load.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.db.create_all()
        for url in ctx.settings.webhook_subscribers:
            subscribe(ctx.db, url)
        on_ready(ctx)
        for worker in ctx.workers:
            worker.start()
        yield
        for worker in reversed(ctx.workers):
            worker.stop()
        ctx.db.dispose()

    app = FastAPI(title=title, description=description, lifespan=lifespan)
    app.state.ctx = ctx
    install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(FaultsMiddleware, faults=ctx.faults)
    for router in [_admin_router(ctx), *routers]:
        _include(app, router)

    @app.get("/health", tags=["ops"])
    def health() -> Health:
        return Health(status="ok", service=ctx.name)

    return app


def _include(app: FastAPI, router: APIRouter) -> None:
    """Include `router`'s routes, each documenting the problems every route of its kind may
    answer: 400 where FastAPI parses a body (one that is not even text), 503 where fault
    injection reaches."""
    for route in router.routes:  # their paths include the router's prefix
        statuses = []
        if isinstance(route, APIRoute) and route.body_field is not None:
            statuses.append(400)
        if injects_faults(str(getattr(route, "path", ""))):
            statuses.append(503)
        app.include_router(APIRouter(routes=[route]), responses=problem_responses(*statuses))


def _admin_router(ctx: ServiceContext) -> APIRouter:
    router = ctx.admin_router()

    @router.get("/faults")
    def get_faults() -> FaultConfig:
        return ctx.faults.config

    @router.put("/faults")
    def put_faults(config: FaultConfig) -> FaultConfig:
        ctx.faults.set(config)
        return config

    @router.delete("/faults")
    def clear_faults() -> FaultConfig:
        ctx.faults.set(FaultConfig())
        return ctx.faults.config

    @router.post("/subscriptions", status_code=201)
    def add_subscription(body: SubscriptionIn) -> SubscriptionOut:
        subscribe(ctx.db, body.url, body.subjects, body.events, body.batch)
        return SubscriptionOut(
            url=body.url,
            subjects=sorted(set(body.subjects)) if body.subjects else None,
            events=sorted(set(body.events)) if body.events else None,
            batch=body.batch,
        )

    @router.get("/webhooks/pending")
    def webhooks_pending() -> PendingWebhooks:
        return PendingWebhooks(pending=pending_deliveries(ctx.db))

    return router
