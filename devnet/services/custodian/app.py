"""The gold custodian's HTTP API: an LBMA weight list of vaulted bars, allocation to token pools,
signed attestations of the allocated fine gold, and an XAU/USD price feed with scripted paths."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from devnet.core.attestation import Signer, attestation_message
from devnet.core.worker import PeriodicWorker
from devnet.services.common.app import ServiceContext, create_service_app
from devnet.services.common.db import get_or_404, short_id, utcnow
from devnet.services.common.idempotency import IdempotencyKey, run_idempotent
from devnet.services.common.problems import Problem, problem_responses
from devnet.services.common.webhooks import emit
from devnet.services.custodian.api import (
    PAIR,
    AnyPath,
    AttestationOut,
    BarIn,
    BarList,
    BarMoved,
    BarOut,
    BarStatus,
    CustodianEvent,
    CustodianInfo,
    PoolIn,
    PriceOut,
    PricePathKind,
    PriceStateOut,
    PriceUpdated,
    TickIn,
    Totals,
    WeightList,
)
from devnet.services.custodian.bars import fine_oz_milli, good_delivery_problem
from devnet.services.custodian.models import Attestation, Bar, PriceState
from devnet.services.custodian.price import dump_path, initial_price, load_path, next_price
from devnet.services.custodian.settings import CustodianSettings

log = logging.getLogger("devnet.custodian")


def _now() -> int:
    return int(time.time())


def _bar_out(bar: Bar) -> BarOut:
    return BarOut.model_validate(bar, from_attributes=True)


def _attestation_out(att: Attestation) -> AttestationOut:
    return AttestationOut.model_validate(att, from_attributes=True)


def _price_out(state: PriceState) -> PriceOut:
    return PriceOut(
        pair=PAIR, price_e8=state.price_e8, as_of=state.as_of, path=PricePathKind(state.config["path"])
    )


def _state_out(state: PriceState) -> PriceStateOut:
    return PriceStateOut.model_validate(state, from_attributes=True)


def _bar_moved(bar: Bar, previous_pool: str | None) -> BarMoved:
    return BarMoved(**_bar_out(bar).model_dump(), previous_pool=previous_pool)


def _json(model: BaseModel) -> dict[str, Any]:
    """An answer or an event's data as the JSON it goes out as."""
    return model.model_dump(mode="json")


# ---- the vault --------------------------------------------------------------------------------


class Custodian:
    def __init__(self, settings: CustodianSettings):
        self.s = settings
        self.signer = Signer(settings.signing_key)

    def check_pool(self, pool: str, field: str) -> str:
        if pool not in self.s.pools:
            raise Problem(
                422, "Unknown pool", f"pool {pool!r} is not one of {', '.join(self.s.pools)}", field=field
            )
        return pool

    def bar(self, session: Session, serial: str) -> Bar:
        bar = get_or_404(session, Bar, serial, "path.serial", "bar", f"no bar {serial} in the vault")
        return bar

    def _in_vault(self, bar: Bar) -> None:
        if bar.status == BarStatus.RELEASED:
            raise Problem(409, "Bar released", f"bar {bar.serial} has left the vault", field="path.serial")

    def deposit(self, session: Session, body: BarIn) -> Bar:
        broken = good_delivery_problem(body.gross_oz_milli, body.assay_tenths, body.year, utcnow().year)
        if broken:
            raise Problem(422, "Not Good Delivery", broken[1], field=broken[0])
        if body.pool is not None:
            self.check_pool(body.pool, "body.pool")
        if session.get(Bar, body.serial) is not None:
            raise Problem(
                409, "Duplicate serial", f"bar {body.serial} is already on record", field="body.serial"
            )
        bar = Bar(
            serial=body.serial,
            brand=body.brand,
            year=body.year,
            gross_oz_milli=body.gross_oz_milli,
            assay_tenths=body.assay_tenths,
            fine_oz_milli=fine_oz_milli(body.gross_oz_milli, body.assay_tenths),
            status=BarStatus.VAULTED,
            pool=None,
            deposited_at=utcnow(),
        )
        session.add(bar)
        session.flush()
        emit(session, CustodianEvent.BAR_DEPOSITED, _json(_bar_out(bar)))
        if body.pool is not None:
            self.allocate(session, bar.serial, body.pool)
        return bar

    def allocate(self, session: Session, serial: str, pool: str) -> Bar:
        self.check_pool(pool, "body.pool")
        bar = self.bar(session, serial)
        self._in_vault(bar)
        if bar.status == BarStatus.ALLOCATED:
            raise Problem(
                409, "Bar already allocated", f"bar {serial} is allocated to {bar.pool}", field="path.serial"
            )
        bar.status, bar.pool = BarStatus.ALLOCATED, pool
        session.flush()
        emit(session, CustodianEvent.BAR_ALLOCATED, _json(_bar_out(bar)))
        self.attest(session, pool, "allocation")
        return bar

    def deallocate(self, session: Session, serial: str) -> Bar:
        bar = self.bar(session, serial)
        self._in_vault(bar)
        if bar.status != BarStatus.ALLOCATED or bar.pool is None:
            raise Problem(409, "Bar not allocated", f"bar {serial} is not allocated", field="path.serial")
        pool = bar.pool
        bar.status, bar.pool = BarStatus.VAULTED, None
        session.flush()
        emit(session, CustodianEvent.BAR_DEALLOCATED, _json(_bar_moved(bar, pool)))
        self.attest(session, pool, "allocation")
        return bar

    def release(self, session: Session, serial: str) -> Bar:
        """The bar leaves the vault; an allocated bar is deallocated first."""
        bar = self.bar(session, serial)
        self._in_vault(bar)
        pool = bar.pool
        if pool is not None:
            self.deallocate(session, serial)
        bar.status, bar.released_at = BarStatus.RELEASED, utcnow()
        session.flush()
        emit(session, CustodianEvent.BAR_RELEASED, _json(_bar_moved(bar, pool)))
        return bar

    def totals(self, bars: list[Bar]) -> Totals:
        return Totals(
            bar_count=len(bars),
            gross_oz_milli=sum(b.gross_oz_milli for b in bars),
            fine_oz_milli=sum(b.fine_oz_milli for b in bars),
        )

    def allocated(self, session: Session, pool: str) -> list[Bar]:
        query = select(Bar).where(Bar.status == BarStatus.ALLOCATED, Bar.pool == pool).order_by(Bar.serial)
        return list(session.scalars(query))

    def attest(self, session: Session, pool: str, reason: str) -> Attestation:
        totals = self.totals(self.allocated(session, pool))
        as_of = _now()
        message = attestation_message(pool, totals.fine_oz_milli, totals.bar_count, as_of)
        att = Attestation(
            id=short_id("att"),
            pool=pool,
            total_fine_oz_milli=totals.fine_oz_milli,
            bar_count=totals.bar_count,
            as_of=as_of,
            message=message,
            signature=self.signer.sign(message),
            signer=self.signer.address,
            reason=reason,
        )
        session.add(att)
        session.flush()
        emit(session, CustodianEvent.ATTESTATION_PUBLISHED, _json(_attestation_out(att)))
        return att

    def latest(self, session: Session, pool: str) -> Attestation | None:
        query = select(Attestation).where(Attestation.pool == pool).order_by(Attestation.seq.desc()).limit(1)
        return session.scalars(query).first()

    # ---- price --------------------------------------------------------------------------------

    def price_state(self, session: Session) -> PriceState:
        state = session.get(PriceState, 1)
        if state is None:  # on_ready creates it; only reachable if the row was deleted by hand
            state = self.set_path(session, self.s.price_path)
        return state

    def set_path(self, session: Session, path: AnyPath) -> PriceState:
        state = session.get(PriceState, 1)
        now = _now()
        previous = state.price_e8 if state else None
        config = dump_path(path)
        if state is None:
            state = PriceState(id=1, settings_config=dump_path(self.s.price_path))
            session.add(state)
        state.config, state.tick, state.price_e8 = config, 0, initial_price(path)
        state.as_of, state.started_at = now, now
        session.flush()
        self._price_updated(session, state, previous)
        return state

    def tick(self, session: Session, ticks: int = 1) -> PriceState:
        state = self.price_state(session)
        path = load_path(state.config)
        previous = state.price_e8
        now = _now()
        price = previous
        for _ in range(ticks):
            state.tick += 1
            price = next_price(path, price, state.tick, now - state.started_at)
        state.price_e8, state.as_of = price, now
        session.flush()
        if price != previous:
            self._price_updated(session, state, previous)
        return state

    def _price_updated(self, session: Session, state: PriceState, previous: int | None) -> None:
        updated = PriceUpdated(**_price_out(state).model_dump(), tick=state.tick, previous_price_e8=previous)
        emit(session, CustodianEvent.PRICE_UPDATED, _json(updated))

    def ready(self, session: Session) -> None:
        """At start: the price row (re-set if the configured path changed) and a first
        attestation for every pool that has none."""
        state = session.get(PriceState, 1)
        configured = dump_path(self.s.price_path)
        if state is None or state.settings_config != configured:
            state = self.set_path(session, self.s.price_path)
            state.settings_config = configured
        for pool in self.s.pools:
            if self.latest(session, pool) is None:
                self.attest(session, pool, "genesis")


# ---- the app ----------------------------------------------------------------------------------


def create_app(settings: CustodianSettings | None = None) -> FastAPI:
    settings = settings or CustodianSettings()
    ctx = ServiceContext("custodian", settings)
    vault = Custodian(settings)
    db = ctx.db
    router = APIRouter()

    def write(
        key: str,
        scope: str,
        body: BaseModel | dict[str, Any] | None,
        handler: Callable[[Session], tuple[int, dict[str, Any]]],
    ) -> Any:
        response = run_idempotent(db, key, scope, body, handler)
        ctx.dispatcher.poke()
        return response

    # ---- bars ---------------------------------------------------------------------------------

    @router.post(
        "/bars", status_code=201, response_model=BarOut, tags=["bars"], responses=problem_responses(409)
    )
    def deposit_bar(body: BarIn, key: IdempotencyKey) -> Any:
        """Deposit a bar into the vault (optionally allocating it to `pool` at once)."""
        return write(key, "POST /bars", body, lambda s: (201, _json(_bar_out(vault.deposit(s, body)))))

    @router.post(
        "/bars/{serial}/release", response_model=BarOut, tags=["bars"], responses=problem_responses(404, 409)
    )
    def release_bar(serial: str, key: IdempotencyKey) -> Any:
        """The bar leaves the vault (deallocated first if it was allocated)."""
        return write(
            key,
            "POST /bars/release",
            {"serial": serial},
            lambda s: (200, _json(_bar_out(vault.release(s, serial)))),
        )

    @router.post(
        "/bars/{serial}/allocate", response_model=BarOut, tags=["bars"], responses=problem_responses(404, 409)
    )
    def allocate_bar(serial: str, body: PoolIn, key: IdempotencyKey) -> Any:
        return write(
            key,
            "POST /bars/allocate",
            {"serial": serial, **body.model_dump()},
            lambda s: (200, _json(_bar_out(vault.allocate(s, serial, body.pool)))),
        )

    @router.post(
        "/bars/{serial}/deallocate",
        response_model=BarOut,
        tags=["bars"],
        responses=problem_responses(404, 409),
    )
    def deallocate_bar(serial: str, key: IdempotencyKey) -> Any:
        return write(
            key,
            "POST /bars/deallocate",
            {"serial": serial},
            lambda s: (200, _json(_bar_out(vault.deallocate(s, serial)))),
        )

    @router.get("/bars", response_model=BarList, tags=["bars"])
    def list_bars(pool: str | None = None, status: BarStatus | None = None) -> BarList:
        """Every bar on record (released ones too), filtered by pool and/or status."""
        with db.read() as session:
            query = select(Bar).order_by(Bar.serial)
            if pool is not None:
                query = query.where(Bar.pool == vault.check_pool(pool, "query.pool"))
            if status is not None:
                query = query.where(Bar.status == status)
            return BarList(bars=[_bar_out(b) for b in session.scalars(query)])

    @router.get("/bars/{serial}", response_model=BarOut, tags=["bars"], responses=problem_responses(404))
    def get_bar(serial: str) -> BarOut:
        with db.read() as session:
            return _bar_out(vault.bar(session, serial))

    @router.get("/weight-list", response_model=WeightList, tags=["bars"])
    def weight_list(pool: str | None = None) -> WeightList:
        """The LBMA weight list: the bars allocated to `pool`, or every bar in the vault."""
        with db.read() as session:
            if pool is not None:
                bars = vault.allocated(session, vault.check_pool(pool, "query.pool"))
            else:
                query = select(Bar).where(Bar.status != BarStatus.RELEASED).order_by(Bar.serial)
                bars = list(session.scalars(query))
            return WeightList(
                pool=pool,
                as_of=_now(),
                bars=[_bar_out(b) for b in bars],
                totals=vault.totals(bars),
            )

    # ---- attestations -------------------------------------------------------------------------

    @router.post("/attestations", status_code=201, response_model=AttestationOut, tags=["attestations"])
    def publish_attestation(body: PoolIn, key: IdempotencyKey) -> Any:
        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            vault.check_pool(body.pool, "body.pool")
            return 201, _json(_attestation_out(vault.attest(session, body.pool, "request")))

        return write(key, "POST /attestations", body, handle)

    @router.get(
        "/attestations/latest",
        response_model=AttestationOut,
        tags=["attestations"],
        responses=problem_responses(404),
    )
    def latest_attestation(pool: Annotated[str, Query()]) -> AttestationOut:
        with db.read() as session:
            att = vault.latest(session, vault.check_pool(pool, "query.pool"))
            if att is None:
                raise Problem(404, "No attestation yet", field="query.pool")
            return _attestation_out(att)

    @router.get(
        "/attestations/{attestation_id}",
        response_model=AttestationOut,
        tags=["attestations"],
        responses=problem_responses(404),
    )
    def get_attestation(attestation_id: str) -> AttestationOut:
        with db.read() as session:
            # Looked up by its public id, not its primary key (seq): not a get_or_404 case.
            att = session.scalars(select(Attestation).where(Attestation.id == attestation_id)).first()
            if att is None:
                raise Problem(404, "No such attestation", field="path.attestation_id")
            return _attestation_out(att)

    # ---- price --------------------------------------------------------------------------------

    def price_state() -> PriceState:
        """The price row, read without the writer lock (made again, as a write, only in the
        case `Custodian.price_state` covers: the row deleted by hand)."""
        with db.read() as session:
            state = session.get(PriceState, 1)
        if state is None:
            with db.transaction() as session:
                state = vault.price_state(session)
        return state

    @router.get("/price", response_model=PriceOut, tags=["price"])
    def get_price() -> PriceOut:
        return _price_out(price_state())

    @router.post(
        "/price/tick",
        response_model=PriceOut,
        tags=["price"],
        dependencies=[Depends(ctx.require_admin)],
        responses=problem_responses(401),
    )
    def tick_price(key: IdempotencyKey, body: TickIn | None = None) -> Any:
        """Advance the price path by `ticks` ticks (admin; for deterministic tests)."""
        body = body or TickIn()
        ticks = body.ticks
        return write(key, "POST /price/tick", body, lambda s: (200, _json(_price_out(vault.tick(s, ticks)))))

    admin = ctx.admin_router()

    @admin.get("/price-path", response_model=PriceStateOut)
    def get_price_path() -> PriceStateOut:
        return _state_out(price_state())

    @admin.put("/price-path", response_model=PriceStateOut)
    def put_price_path(path: Annotated[AnyPath, Body(discriminator="path")]) -> PriceStateOut:
        """Replace the price path; the price restarts at the path's tick 0."""
        with db.transaction() as session:
            out = _state_out(vault.set_path(session, path))
        ctx.dispatcher.poke()
        return out

    @router.get("/info", tags=["ops"])
    def info() -> CustodianInfo:
        return CustodianInfo(
            custodian=settings.custodian_name, signer=vault.signer.address, pools=settings.pools, pair=PAIR
        )

    def tick_once() -> None:
        with db.transaction() as session:
            vault.tick(session)
        ctx.dispatcher.poke()

    def attest_all() -> None:
        with db.transaction() as session:
            for pool in settings.pools:
                vault.attest(session, pool, "schedule")
        ctx.dispatcher.poke()

    if settings.price_tick_interval_s > 0:
        ctx.workers.append(
            PeriodicWorker("price-ticker", settings.price_tick_interval_s, tick_once, first_tick_after=True)
        )
    if settings.attestation_interval_s > 0:
        ctx.workers.append(
            PeriodicWorker(
                "attestation-schedule", settings.attestation_interval_s, attest_all, first_tick_after=True
            )
        )

    def ready(_ctx: ServiceContext) -> None:
        with db.transaction() as session:
            vault.ready(session)

    return create_service_app(
        ctx,
        title="Mock gold custodian",
        description=(
            "A gold vault: LBMA Good Delivery weight list, allocation to token pools, "
            "attestations signed with secp256k1 (EIP-191), an XAU/USD price feed with scripted paths."
        ),
        routers=[router, admin],
        on_ready=ready,
    )
