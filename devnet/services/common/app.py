"""The app factory every service uses: problems, faults, admin endpoints, webhook dispatch,
background workers, health."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Header

from devnet.services.common.db import Database
from devnet.services.common.faults import FaultConfig, Faults
from devnet.services.common.problems import Problem, install_problem_handlers
from devnet.services.common.settings import ServiceSettings
from devnet.services.common.webhooks import Dispatcher, pending_deliveries, subscribe


class Worker(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class ServiceContext:
    """What a service's routes and workers share: settings, store, faults, dispatcher."""

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


def create_service_app(
    ctx: ServiceContext,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    on_ready: Callable[[ServiceContext], None] = lambda _ctx: None,
) -> FastAPI:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

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
    app.middleware("http")(ctx.faults.middleware)
    app.include_router(_admin_router(ctx))
    for router in routers:
        app.include_router(router)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "service": ctx.name}

    return app


def _admin_router(ctx: ServiceContext) -> APIRouter:
    def require_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        if authorization != f"Bearer {ctx.settings.admin_token}":
            raise Problem(401, "Admin token required", field="header.Authorization")

    router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

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
    def add_subscription(body: dict[str, str]) -> dict[str, str]:
        url = body.get("url", "")
        if not url.startswith(("http://", "https://")):
            raise Problem(422, "Invalid subscription", "url must be an http(s) URL", field="body.url")
        subscribe(ctx.db, url)
        return {"url": url}

    @router.get("/webhooks/pending")
    def webhooks_pending() -> dict[str, int]:
        return {"pending": pending_deliveries(ctx.db)}

    return router
