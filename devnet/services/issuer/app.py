"""The issuer's HTTP API and workers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import httpx
from eth_utils import to_checksum_address
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from devnet.core.chain import Reverted
from devnet.core.env import DevnetEnv
from devnet.core.http import ApiError, ServiceClient
from devnet.core.webhooks import SIGNATURE_HEADER, WebhookBatch, WebhookEvent
from devnet.core.worker import PeriodicWorker
from devnet.services.bank.api import AccountNotification, BankEvent, Currency, KycTier
from devnet.services.bank.client import BankClient
from devnet.services.common.app import ServiceContext, create_service_app
from devnet.services.common.db import Base, get_or_404, short_id
from devnet.services.common.idempotency import IdempotencyKey, run_idempotent
from devnet.services.common.params import Limit, RowId
from devnet.services.common.problems import Problem, invalid_request, problem_responses
from devnet.services.common.webhooks import (
    BATCH_RECEIVER_OPENAPI,
    RECEIVER_RESPONSES,
    emit,
    first_time,
    read_delivery,
)
from devnet.services.custodian.client import CustodianClient
from devnet.services.issuer.api import (
    MAX_WAIT_S,
    MINT_SETTLED,
    REDEMPTION_SETTLED,
    IssuerEvent,
    IssuerInfo,
    MintOut,
    MintRequestAccepted,
    MintRequestStatus,
    MintStatus,
    RedemptionOut,
    TokenReserve,
    UsdkgMintRequestIn,
    WebhookAck,
)
from devnet.services.issuer.core import Issuer
from devnet.services.issuer.models import Mint, MintRequest, Redemption, ScannedBlock
from devnet.services.issuer.settings import IssuerSettings

log = logging.getLogger("devnet.issuer")


def _mint_key(payment_id: str) -> str:
    return f"mint:{payment_id}"


def _redemptions_key(tx_hash: str) -> str:
    return f"redemptions:{tx_hash.lower()}"


def _changed_keys(rows: list[Base]) -> set[str]:
    """What a long poll may wait on among the rows a commit wrote: a bank payment's mint, a
    transaction's redemptions. Only a settled row wakes its polls, since they wait for that (a
    mint passes queued, sent and included first; a redemption is pending before it is paid):
    each wake-up is a read."""
    keys = set()
    for row in rows:
        if isinstance(row, Mint) and row.bank_payment_id and row.status in MINT_SETTLED:
            keys.add(_mint_key(row.bank_payment_id))
        elif isinstance(row, Redemption) and row.status in REDEMPTION_SETTLED:
            keys.add(_redemptions_key(row.tx_hash))
    return keys


def create_app(settings: IssuerSettings | None = None) -> FastAPI:
    settings = settings or IssuerSettings()
    ctx = ServiceContext("issuer", settings)
    db = ctx.db
    changes = ctx.changes
    # Every commit (the webhook receiver's, the mint worker's, the redemption scan's and payouts,
    # the statement sync's) wakes the long polls waiting on what it wrote.
    db.on_commit(lambda rows: changes.notify(*_changed_keys(rows)))
    bank = BankClient(settings.bank_url) if settings.bank_url else None
    custodian = CustodianClient(settings.custodian_url) if settings.custodian_url else None
    issuer_box: dict[str, Issuer] = {}

    def issuer() -> Issuer:
        return issuer_box["issuer"]

    def tick_mints() -> None:
        issuer().process_mints()

    #: webhook subscriptions not made yet: a peer that is down when the issuer starts (a
    #: restart after a crash, say) is asked again on each reporter tick, and meanwhile the
    #: bank statement sync finds the credits its webhooks would have announced
    #: (peer, our URL, what to subscribe to: None for everything, else a function naming the
    #: subjects, asked when subscribing; the event types, None for all; in batches or not)
    unsubscribed: list[tuple[ServiceClient, str, Callable[[], list[str]] | None, list[str] | None, bool]] = []

    def subscribe() -> None:
        for entry in list(unsubscribed):
            client, url, subjects, events, batch = entry
            try:
                client.subscribe(url, subjects() if subjects else None, events, batch)
            except (ApiError, httpx.HTTPError) as e:
                log.warning("subscribing %s at %s failed, retrying later: %s", url, client.base_url, e)
            else:
                unsubscribed.remove(entry)

    def report() -> None:
        subscribe()
        issuer().report_all()

    mint_worker = PeriodicWorker(
        "mints", settings.mint_interval_s, tick_mints, min_gap_s=settings.mint_min_gap_s
    )
    reporter = PeriodicWorker("reserve-reporter", settings.report_interval_s, report)
    ctx.workers += [
        mint_worker,
        PeriodicWorker("redemptions", settings.redeem_interval_s, lambda: issuer().redemptions_tick()),
        reporter,
    ]
    router = APIRouter()

    async def _webhook(request: Request, sender: str) -> WebhookAck:
        body = await request.body()
        secret = settings.inbound_webhook_secrets[sender]
        delivery = read_delivery(secret, request.headers.get(SIGNATURE_HEADER), body)
        events = delivery.events if isinstance(delivery, WebhookBatch) else [delivery]
        credits: list[AccountNotification | None] = []
        for i, event in enumerate(events):
            credit: AccountNotification | None = None
            if (
                sender == "bank"
                and event.type == BankEvent.ACCOUNT_CREDITED
                and event.data.get("account_label") == "KGST"
            ):
                try:
                    credit = AccountNotification.model_validate(event.data)
                except ValidationError as e:
                    batched = isinstance(delivery, WebhookBatch)
                    where = ("body", "events", str(i), "data") if batched else ("body", "data")
                    raise invalid_request(e.errors(), prefix=where) from e
            credits.append(credit)
        return await run_in_threadpool(_handle_events, sender, events, credits)

    def _handle_events(
        sender: str, events: list[WebhookEvent], credits: list[AccountNotification | None]
    ) -> WebhookAck:
        """One transaction for a delivery's events (one, or a batch), each de-duplicated on its
        own id: a batch delivered again, whole or in part, books nothing twice."""
        fresh = 0
        with db.transaction() as session:
            for event, credit in zip(events, credits, strict=True):
                if not first_time(session, event.id, sender):
                    continue
                fresh += 1
                if credit is not None:
                    mint = issuer().record_credit(
                        session,
                        credit.payment_id,
                        credit.amount,
                        credit.remittance_info,
                        credit.creditor_reference,
                    )
                    if mint is not None:
                        out = MintOut.model_validate(mint, from_attributes=True)
                        emit(session, IssuerEvent(f"mint.{out.status}"), out.model_dump(mode="json"))
        if not fresh:
            return WebhookAck(duplicate=True)
        (reporter if sender == "custodian" else mint_worker).poke()
        return WebhookAck(accepted=True)

    receiver = partial(
        router.post,
        tags=["webhooks"],
        responses=RECEIVER_RESPONSES,
        openapi_extra=BATCH_RECEIVER_OPENAPI,
        response_model_exclude_none=True,
    )

    @receiver("/webhooks/bank")
    async def bank_webhook(request: Request) -> WebhookAck:
        """camt.054 notifications from the bank: a credit to the KGST reserve account is a mint order."""
        return await _webhook(request, "bank")

    @receiver("/webhooks/custodian")
    async def custodian_webhook(request: Request) -> WebhookAck:
        """Price and attestation updates: reported on chain at the next reporter tick."""
        return await _webhook(request, "custodian")

    @router.get("/mints", tags=["mints"])
    def list_mints(
        status: Annotated[str | None, Query(max_length=40)] = None, limit: Limit = 100
    ) -> list[MintOut]:
        with db.read() as session:
            q = select(Mint).order_by(Mint.id.desc()).limit(limit)
            if status:
                q = q.where(Mint.status == status)
            return [MintOut.model_validate(m, from_attributes=True) for m in session.scalars(q)]

    @router.get("/mints/{mint_id}", tags=["mints"], responses=problem_responses(404))
    def get_mint(mint_id: RowId) -> MintOut:
        with db.read() as session:
            mint = get_or_404(session, Mint, mint_id, "path.mint_id", "mint")
            return MintOut.model_validate(mint, from_attributes=True)

    @router.get("/mints/by-payment/{payment_id}", tags=["mints"], responses=problem_responses(404))
    async def mint_by_payment(
        payment_id: str,
        wait: Annotated[
            float,
            Query(
                ge=0,
                le=MAX_WAIT_S,
                description="a long poll: seconds to wait for the mint to be settled (minted, failed "
                "or held) before answering; it answers as soon as it is, else when the wait ends, "
                "with the mint as it is then (or the 404). 0: answer at once",
            ),
        ] = 0,
    ) -> MintOut:
        """The mint a bank payment into a reserve account caused (404 until the issuer booked it)."""

        def read() -> MintOut | None:
            with db.read() as session:
                mint = session.scalar(select(Mint).where(Mint.bank_payment_id == payment_id))
                return None if mint is None else MintOut.model_validate(mint, from_attributes=True)

        def settled(mint: MintOut | None) -> bool:
            return mint is not None and mint.status in MINT_SETTLED

        mint = await changes.observe(_mint_key(payment_id), read, settled, wait)
        if mint is None:
            raise Problem(404, "No mint for this payment (yet)", field="path.payment_id")
        return mint

    @router.post(
        "/usdkg/mint-requests",
        status_code=202,
        tags=["mints"],
        response_model=MintRequestAccepted,
        responses=problem_responses(403, 409, 502),
    )
    def usdkg_mint_request(body: UsdkgMintRequestIn, key: IdempotencyKey) -> Any:
        """An institutional customer buys USDKG with USD: refused unless gold covers it."""

        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            iss = issuer()
            if bank is None:
                raise Problem(503, "No bank configured")
            try:
                account = bank.account(body.customer_account)
                customer = bank.customer(account.customer_id)
            except ApiError as e:
                if e.status >= 500:
                    raise Problem(502, "The bank failed", str(e), field="body.customer_account") from e
                raise Problem(422, "Unknown bank account", str(e), field="body.customer_account") from e
            except httpx.HTTPError as e:
                raise Problem(503, "Bank unreachable", f"{type(e).__name__}: {e}") from e
            if customer.kyc_tier != KycTier.T3 or account.currency != Currency.USD:
                raise Problem(
                    403,
                    "Not an institutional USD account",
                    "USDKG is minted directly only for KYC tier T3 customers paying in USD",
                    field="body.customer_account",
                )
            token = iss.tokens["USDKG"]
            units = token.info.from_minor(body.amount_cents)
            try:
                ceiling = token.max_supply()
            except Reverted as e:
                raise Problem(409, "Minting halted", e.reason, field="body.amount_cents") from e
            queued = sum(
                int(m.amount)
                for m in session.scalars(
                    select(Mint).where(
                        Mint.token == "USDKG", Mint.status.in_((MintStatus.QUEUED, MintStatus.SENT))
                    )
                )
            )
            if token.total_supply() + queued + units > ceiling:
                raise Problem(
                    409,
                    "Collateral floor would be breached",
                    f"gold covers {ceiling - token.total_supply() - queued} more base units",
                    field="body.amount_cents",
                )
            request_id = short_id("umr")
            try:
                payment = bank.pay(
                    body.customer_account,
                    iss.reserve_account("USDKG"),
                    body.amount_cents,
                    Currency.USD,
                    end_to_end_id=request_id,
                    remittance_info=f"USDKG mint to {body.wallet}",
                    debtor_name=customer.name,
                    creditor_name=settings.issuer_name,
                    # Derived from the caller's key: a retry after a crash replays the same payment.
                    key=f"usdkg-mint:{key}",
                )
            except ApiError as e:
                raise Problem(
                    e.status if e.status < 500 else 502,
                    f"Bank refused the payment: {e.title}",
                    str(e),
                    field="body.amount_cents",
                ) from e
            except httpx.HTTPError as e:
                raise Problem(503, "Bank unreachable", f"{type(e).__name__}: {e}") from e
            session.add(
                MintRequest(
                    id=request_id,
                    customer_account=body.customer_account,
                    wallet=body.wallet,
                    amount_cents=body.amount_cents,
                    bank_payment_id=payment.id,
                    status=MintRequestStatus.ACCEPTED,
                )
            )
            mint = Mint(
                source_ref=f"usdkg:{request_id}",
                token="USDKG",
                wallet=to_checksum_address(body.wallet),
                fiat_amount=body.amount_cents,
                amount=str(units),
                bank_payment_id=payment.id,
                status=MintStatus.QUEUED,
            )
            session.add(mint)
            session.flush()
            accepted = MintRequestAccepted(
                id=request_id,
                status=MintRequestStatus.ACCEPTED,
                mint_id=mint.id,
                bank_payment_id=payment.id,
            )
            return 202, accepted.model_dump(mode="json")

        response = run_idempotent(db, key, "POST /usdkg/mint-requests", body, handle)
        mint_worker.poke()
        return response

    @router.get("/redemptions", tags=["redemptions"])
    def list_redemptions(
        status: Annotated[str | None, Query(max_length=40)] = None, limit: Limit = 100
    ) -> list[RedemptionOut]:
        with db.read() as session:
            q = select(Redemption).order_by(Redemption.id.desc()).limit(limit)
            if status:
                q = q.where(Redemption.status == status)
            return [RedemptionOut.model_validate(r, from_attributes=True) for r in session.scalars(q)]

    @router.get("/redemptions/by-tx/{tx_hash}", tags=["redemptions"])
    async def redemptions_by_tx(
        tx_hash: str,
        wait: Annotated[
            float,
            Query(
                ge=0,
                le=MAX_WAIT_S,
                description="a long poll: seconds to wait until the transaction has redemptions and "
                "none is pending (each paid, failed or reorged); it answers as soon as that is so, "
                "else when the wait ends, with the redemptions as they are then. 0: answer at once",
            ),
        ] = 0,
    ) -> list[RedemptionOut]:
        """The redemptions one transaction made (usually one); empty until the watcher saw it."""

        def read() -> list[RedemptionOut]:
            with db.read() as session:
                rows = session.scalars(select(Redemption).where(Redemption.tx_hash == tx_hash.lower()))
                return [RedemptionOut.model_validate(r, from_attributes=True) for r in rows]

        def settled(redemptions: list[RedemptionOut]) -> bool:
            return bool(redemptions) and all(r.status in REDEMPTION_SETTLED for r in redemptions)

        return await changes.observe(_redemptions_key(tx_hash), read, settled, wait)

    @router.get("/info", tags=["info"])
    def info() -> IssuerInfo:
        """How the issuer decides that money is final, and how far its redemption scan got."""
        with db.read() as session:
            scanned = session.scalar(select(func.max(ScannedBlock.number)))
        return IssuerInfo(
            finality="finalized tag"
            if settings.confirmations is None
            else f"{settings.confirmations} confirmations",
            confirmations=settings.confirmations,
            scanned_block=-1 if scanned is None else int(scanned),
        )

    @router.get("/reserves", tags=["reserves"], response_model_exclude_none=True)
    def reserves() -> dict[str, TokenReserve]:
        """Each token's supply and what its reserve policy allows it to reach."""
        iss = issuer()
        out: dict[str, TokenReserve] = {}
        for symbol, token in iss.tokens.items():
            reserve = TokenReserve(supply=token.total_supply(), decimals=token.info.decimals)
            try:
                reserve.max_supply = token.max_supply()
            except Reverted as e:
                reserve.halted = e.reason
            out[symbol] = reserve
        return out

    def start_issuer(ctx: ServiceContext) -> None:
        issuer_box["issuer"] = Issuer(
            db,
            DevnetEnv.load(settings.env_file),
            bank=bank,
            custodian=custodian,
            minter_count=settings.minter_count,
            gas_per_mint=settings.gas_per_mint,
            mint_batch=settings.mint_batch,
            confirmations=settings.confirmations,
            custodian_signer=settings.custodian_signer or None,
            issuer_name=settings.issuer_name,
        )
        public = settings.public_url or f"http://{settings.host}:{settings.port}"
        if bank is not None:
            # The bank tells us of credits to our reserve accounts (a mint order each), not of
            # their debits (our own payouts, whose answers we have) nor of other customers';
            # several at once when they come faster than it delivers (one request, one
            # transaction here).
            reserve_bank = bank
            unsubscribed.append(
                (
                    bank,
                    f"{public}/webhooks/bank",
                    lambda: sorted(reserve_bank.reserve_accounts().values()),
                    [BankEvent.ACCOUNT_CREDITED],
                    True,
                )
            )
        if custodian is not None:  # new prices and attestations are reported at once
            unsubscribed.append((custodian, f"{public}/webhooks/custodian", None, None, False))
        subscribe()

    return create_service_app(
        ctx,
        title="Reference issuer",
        description="Mints KGST on bank credits and USDKG against gold; pays redemptions; reports reserves.",
        routers=[router],
        on_ready=start_issuer,
    )
