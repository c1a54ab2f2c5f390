"""The exchange's HTTP API.

Amounts are token base units: returned as decimal strings, accepted as decimal strings or JSON
integers. Every POST takes an Idempotency-Key. Admin endpoints need `Authorization: Bearer
<admin_token>`.

- POST /listings/reviews {"token_address"} -> {"id", "token_address", "passed", "checks":
  [{"name", "passed", "detail", "required"}], "capabilities", "block_number"}; GET /listings/reviews/{id}
- GET /networks -> {"chainId", "networks": [Binance capital config per token + "status"]};
  GET /networks/{symbol}; PUT /admin/networks/{symbol} {any camelCase config field}
- POST /users {"name"} -> {"id", "name"}; GET /users/{id}
- POST /users/{id}/deposit-addresses {"token"} -> {"user_id", "token", "address"} (one per user
  per token: asking again returns the same address, 200); GET /users/{id}/deposit-addresses
- GET /users/{id}/balances -> {"user_id", "balances": {symbol: {"available", "locked", "pending"}}}
- GET /users/{id}/deposits, GET /deposits/{id}, GET /deposits?tx_hash=
- POST /withdrawals {"user_id", "token", "address", "amount"} -> 201 {"id", "status":
  "processing", ...}; GET /withdrawals/{id} (completed + tx_hash, or failed + failure_reason)
  The user is debited `amount`; the recipient receives `amount - withdrawFee` (Binance-like).
- POST /internal-transfers {"from_user_id", "to_user_id", "token", "amount"}; GET /internal-transfers/{id}
- POST /admin/sweeps {"token"?} -> {"sweeps": [...], "skipped": [...]}; GET /admin/sweeps[/{id}]
- GET /info -> chain id, hot wallet, gas funder, last processed block
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from eth_utils import is_checksum_address, to_checksum_address
from fastapi import APIRouter, FastAPI, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devnet.core.worker import ChangeGate, PeriodicWorker
from devnet.services.common.app import ServiceContext, create_service_app
from devnet.services.common.db import get_or_404, short_id
from devnet.services.common.idempotency import IdempotencyKey, IdempotencyRecord, run_idempotent
from devnet.services.common.problems import Problem, problem_responses
from devnet.services.common.webhooks import emit
from devnet.services.exchange import ledger
from devnet.services.exchange.api import (
    AddressList,
    AddressOut,
    Balances,
    DepositAddressIn,
    DepositList,
    DepositOut,
    ExchangeEvent,
    ExchangeInfo,
    InternalTransferIn,
    NetworkList,
    NetworkOut,
    NetworkPatch,
    Reconciliation,
    Rescan,
    RescanIn,
    ReviewIn,
    ReviewOut,
    SweepIn,
    SweepList,
    SweepOut,
    SweepsCreated,
    SweepSkipped,
    TokenBalance,
    TransferOut,
    UserDeposits,
    UserDetail,
    UserIn,
    UserOut,
    WithdrawalIn,
    WithdrawalOut,
    WithdrawalStatus,
)
from devnet.services.exchange.core import (
    ExchangeCore,
    as_json,
    deposit_out,
    transfer_out,
    withdraw_block_reasons,
    withdrawal_out,
)
from devnet.services.exchange.listing import review_token
from devnet.services.exchange.models import (
    Deposit,
    DepositAddress,
    InternalTransfer,
    ListingReview,
    Network,
    Sweep,
    User,
    Withdrawal,
)
from devnet.services.exchange.reconcile import reconcile_books
from devnet.services.exchange.settings import ExchangeSettings, NetworkConfig
from devnet.services.exchange.treasury import Treasury
from devnet.services.exchange.watcher import LAST_BLOCK, Watcher

__all__ = ["ExchangeSettings", "create_app"]


# ---- the app -------------------------------------------------------------------------------


def create_app(settings: ExchangeSettings | None = None) -> FastAPI:
    settings = settings or ExchangeSettings()
    ctx = ServiceContext("exchange", settings)
    core = ExchangeCore(ctx, settings)
    watcher = Watcher(core)
    treasury = Treasury(core)
    # Both workers read only the chain and the exchange's store: an idle exchange skips their
    # ticks until a new block (or reorg) or a commit (a withdrawal asked for, a config changed).
    gates = [ChangeGate(core.head_hash), ChangeGate(core.head_hash)]

    def store_changed(_rows: object) -> None:
        for gate in gates:
            gate.mark_changed()

    ctx.db.on_commit(store_changed)
    treasury_tick = treasury.tick if settings.auto_sweep_interval_s else gates[1].wrap(treasury.tick)
    treasury_worker = PeriodicWorker("exchange-treasury", settings.poll_interval_s, treasury_tick)
    core.wake_treasury = treasury_worker.poke
    ctx.workers += [
        PeriodicWorker("exchange-watcher", settings.poll_interval_s, gates[0].wrap(watcher.tick)),
        treasury_worker,
    ]
    db = ctx.db
    router = APIRouter()

    admin = ctx.admin_router()

    def replayable(key: str, scope: str) -> bool:
        with db.read() as session:
            return session.get(IdempotencyRecord, (key, scope)) is not None

    def network(session: Session, symbol: str, field: str) -> Network:
        net = session.get(Network, symbol)
        if net is None:
            listed = ", ".join(sorted(settings.tokens)) or "none"
            raise Problem(422, "Unknown token", f"{symbol} is not listed (listed: {listed})", field=field)
        return net

    def user(session: Session, user_id: str, field: str, status: int = 422) -> User:
        found = session.get(User, user_id)
        if found is None:
            raise Problem(status, "Unknown user", f"no user {user_id}", field=field)
        return found

    def tip(session: Session) -> int | None:
        return core.cursor(session, LAST_BLOCK)

    # ---- listing reviews -------------------------------------------------------------------

    @router.post("/listings/reviews", status_code=201, tags=["listing"], response_model=ReviewOut)
    def create_review(body: ReviewIn, key: IdempotencyKey) -> Any:
        scope = "POST /listings/reviews"
        review = (
            None
            if replayable(key, scope)
            else review_token(
                core.rpc, body.token_address, core.hot.address, settings.listing_optional_checks
            )
        )

        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            assert review is not None
            row = ListingReview(
                id=short_id("rev"),
                token_address=review.token_address,
                passed=review.passed,
                block_number=review.block_number,
                checks=[c.as_dict() for c in review.checks],
                capabilities=review.capabilities,
            )
            session.add(row)
            session.flush()
            return 201, as_json(ReviewOut.model_validate(row, from_attributes=True))

        return run_idempotent(db, key, scope, body, handle)

    @router.get("/listings/reviews/{review_id}", tags=["listing"], responses=problem_responses(404))
    def get_review(review_id: str) -> ReviewOut:
        with db.read() as session:
            row = get_or_404(session, ListingReview, review_id, "path.review_id", "review")
            return ReviewOut.model_validate(row, from_attributes=True)

    # ---- networks --------------------------------------------------------------------------

    @router.get("/networks", tags=["networks"])
    def networks() -> NetworkList:
        with db.read() as session:
            rows = session.scalars(select(Network).order_by(Network.symbol))
            return NetworkList(chain_id=core.chain_id, networks=[core.network_out(n) for n in rows])

    @router.get("/networks/{symbol}", tags=["networks"], responses=problem_responses(404))
    def get_network(symbol: str) -> NetworkOut:
        with db.read() as session:
            net = get_or_404(session, Network, symbol, "path.symbol", "network", f"{symbol} is not listed")
            return core.network_out(net)

    @admin.put("/networks/{symbol}", responses=problem_responses(404))
    def put_network(symbol: str, body: NetworkPatch) -> NetworkOut:
        """Change some of a token's network config fields (camelCase, amounts in base units)."""
        with db.transaction() as session:
            net = get_or_404(session, Network, symbol, "path.symbol", "network", f"{symbol} is not listed")
            config = NetworkConfig.model_validate(net.config).merged(body)
            problems = config.problems()
            if problems:
                alias, why = problems[0]
                raise Problem(422, "Invalid network config", f"{alias} {why}", field=f"body.{alias}")
            before = core.network_out(net)
            net.config = config.stored()
            after = core.network_out(net)
            if after != before:
                emit(session, ExchangeEvent.NETWORK_UPDATED, as_json(after))
        ctx.dispatcher.poke()
        return after

    # ---- users and deposit addresses -------------------------------------------------------

    @router.post("/users", status_code=201, tags=["users"], response_model=UserOut)
    def create_user(body: UserIn, key: IdempotencyKey) -> Any:
        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            row = User(id=short_id("usr"), name=body.name)
            session.add(row)
            session.flush()
            return 201, as_json(UserOut.model_validate(row, from_attributes=True))

        return run_idempotent(db, key, "POST /users", body, handle)

    @router.get("/users/{user_id}", tags=["users"], responses=problem_responses(404))
    def get_user(user_id: str) -> UserDetail:
        with db.read() as session:
            row = user(session, user_id, "path.user_id", 404)
            addresses = session.scalars(select(DepositAddress).where(DepositAddress.user_id == user_id))
            return UserDetail(
                id=row.id,
                name=row.name,
                created_at=row.created_at,
                deposit_addresses={a.token: a.address for a in addresses},
            )

    @router.post(
        "/users/{user_id}/deposit-addresses",
        status_code=201,
        tags=["users"],
        response_model=AddressOut,
        responses={
            200: {"model": AddressOut, "description": "The user already had one: the same address"},
            **problem_responses(404, 409),
        },
    )
    def create_deposit_address(user_id: str, body: DepositAddressIn, key: IdempotencyKey) -> Any:
        scope = f"POST /users/{user_id}/deposit-addresses"
        if body.token in settings.tokens and not replayable(key, scope):
            core.refresh_network_state(body.token)  # a pause as of now, not the last tick

        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            user(session, user_id, "path.user_id", 404)
            net = network(session, body.token, "body.token")
            existing = session.scalars(
                select(DepositAddress).where(
                    DepositAddress.user_id == user_id, DepositAddress.token == body.token
                )
            ).first()
            if existing is not None:
                return 200, as_json(AddressOut.model_validate(existing, from_attributes=True))
            config = NetworkConfig.model_validate(net.config)
            if not (config.deposit_enable and not net.paused):
                reason = "token paused" if net.paused else "deposits disabled by admin"
                raise Problem(
                    409,
                    "Deposits disabled",
                    f"{body.token} deposits are disabled: {reason}",
                    field="body.token",
                    status_reason=reason,
                )
            index = (session.scalar(select(func.max(DepositAddress.hd_index))) or 0) + 1
            account = core.deposit_account(index)
            row = DepositAddress(address=account.address, hd_index=index, user_id=user_id, token=body.token)
            session.add(row)
            session.flush()
            return 201, as_json(AddressOut.model_validate(row, from_attributes=True))

        return run_idempotent(db, key, scope, body, handle)

    @router.get("/users/{user_id}/deposit-addresses", tags=["users"], responses=problem_responses(404))
    def list_deposit_addresses(user_id: str) -> AddressList:
        with db.read() as session:
            user(session, user_id, "path.user_id", 404)
            rows = session.scalars(select(DepositAddress).where(DepositAddress.user_id == user_id))
            return AddressList(
                user_id=user_id, addresses=[AddressOut.model_validate(a, from_attributes=True) for a in rows]
            )

    @router.get("/users/{user_id}/balances", tags=["users"], responses=problem_responses(404))
    def balances(user_id: str) -> Balances:
        with db.read() as session:
            user(session, user_id, "path.user_id", 404)
            pending = ledger.pending(session, user_id)
            out: dict[str, TokenBalance] = {}
            symbols = [n.symbol for n in session.scalars(select(Network).order_by(Network.symbol))]
            rows = ledger.peek(session, user_id)
            for symbol in symbols:
                row = rows.get(symbol)
                out[symbol] = TokenBalance(
                    available=row.available if row else 0,
                    locked=row.locked if row else 0,
                    pending=pending.get(symbol, 0),
                )
            return Balances(user_id=user_id, balances=out)

    # ---- deposits --------------------------------------------------------------------------

    @router.get("/users/{user_id}/deposits", tags=["deposits"], responses=problem_responses(404))
    def user_deposits(user_id: str) -> UserDeposits:
        with db.read() as session:
            user(session, user_id, "path.user_id", 404)
            rows = session.scalars(
                select(Deposit)
                .where(Deposit.user_id == user_id)
                .order_by(Deposit.block_number, Deposit.log_index)
            )
            at = tip(session)
            return UserDeposits(user_id=user_id, deposits=[deposit_out(d, at) for d in rows])

    @router.get("/deposits", tags=["deposits"])
    def find_deposits(tx_hash: Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{64}$")]) -> DepositList:
        with db.read() as session:
            rows = session.scalars(
                select(Deposit).where(Deposit.tx_hash == tx_hash.lower()).order_by(Deposit.log_index)
            )
            at = tip(session)
            return DepositList(deposits=[deposit_out(d, at) for d in rows])

    @router.get("/deposits/{deposit_id}", tags=["deposits"], responses=problem_responses(404))
    def get_deposit(deposit_id: str) -> DepositOut:
        with db.read() as session:
            row = get_or_404(session, Deposit, deposit_id, "path.deposit_id", "deposit")
            return deposit_out(row, tip(session))

    # ---- withdrawals -----------------------------------------------------------------------

    @router.post(
        "/withdrawals",
        status_code=201,
        tags=["withdrawals"],
        response_model=WithdrawalOut,
        responses=problem_responses(409),
    )
    def create_withdrawal(body: WithdrawalIn, key: IdempotencyKey) -> Any:
        scope = "POST /withdrawals"
        if body.token in settings.tokens and not replayable(key, scope):
            core.refresh_network_state(body.token)  # pause / blacklist as of now, not the last tick

        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            user(session, body.user_id, "body.user_id")
            net = network(session, body.token, "body.token")
            config = NetworkConfig.model_validate(net.config)
            if not re.fullmatch(config.address_regex, body.address):
                raise Problem(
                    422,
                    "Invalid address",
                    f"does not match addressRegex {config.address_regex}",
                    field="body.address",
                )
            if (
                body.address != body.address.lower()
                and body.address[2:] != body.address[2:].upper()
                and not is_checksum_address(body.address)
            ):
                raise Problem(
                    422,
                    "Invalid address",
                    "mixed-case address with a wrong EIP-55 checksum",
                    field="body.address",
                )
            amount = body.amount
            if amount < config.withdraw_min:
                raise Problem(
                    422, "Amount below minimum", f"withdrawMin is {config.withdraw_min}", field="body.amount"
                )
            if amount > config.withdraw_max:
                raise Problem(
                    422, "Amount above maximum", f"withdrawMax is {config.withdraw_max}", field="body.amount"
                )
            if amount % config.withdraw_integer_multiple:
                raise Problem(
                    422,
                    "Amount not a whole multiple",
                    f"must be a multiple of withdrawIntegerMultiple {config.withdraw_integer_multiple}",
                    field="body.amount",
                )
            if amount <= config.withdraw_fee:
                raise Problem(
                    422,
                    "Amount does not cover the fee",
                    f"withdrawFee is {config.withdraw_fee}",
                    field="body.amount",
                )
            reasons = withdraw_block_reasons(net, config)
            if reasons:
                raise Problem(
                    409,
                    "Withdrawals disabled",
                    f"{body.token} withdrawals are disabled: {'; '.join(reasons)}",
                    field="body.token",
                    status_reason="; ".join(reasons),
                )
            balance = ledger.balance(session, body.user_id, body.token)
            if balance.available < amount:
                raise Problem(
                    422,
                    "Insufficient balance",
                    f"available {balance.available} < amount {amount}",
                    field="body.amount",
                )
            w = Withdrawal(
                id=short_id("wdr"),
                user_id=body.user_id,
                token=body.token,
                address=to_checksum_address(body.address),
                amount=amount,
                fee=config.withdraw_fee,
                status=WithdrawalStatus.PROCESSING,
            )
            session.add(w)
            session.flush()
            ledger.post(session, body.user_id, body.token, "withdrawal", w.id, available=-amount)
            answer = as_json(withdrawal_out(w))
            emit(session, ExchangeEvent.WITHDRAWAL_PROCESSING, answer)
            return 201, answer

        response = run_idempotent(db, key, scope, body, handle)
        core.wake_treasury()
        ctx.dispatcher.poke()
        return response

    @router.get("/withdrawals/{withdrawal_id}", tags=["withdrawals"], responses=problem_responses(404))
    def get_withdrawal(withdrawal_id: str) -> WithdrawalOut:
        with db.read() as session:
            row = get_or_404(session, Withdrawal, withdrawal_id, "path.withdrawal_id", "withdrawal")
            return withdrawal_out(row)

    # ---- internal transfers ----------------------------------------------------------------

    @router.post("/internal-transfers", status_code=201, tags=["transfers"], response_model=TransferOut)
    def create_internal_transfer(body: InternalTransferIn, key: IdempotencyKey) -> Any:
        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            user(session, body.from_user_id, "body.from_user_id")
            user(session, body.to_user_id, "body.to_user_id")
            if body.from_user_id == body.to_user_id:
                raise Problem(
                    422, "Same user", "sender and recipient are the same user", field="body.to_user_id"
                )
            network(session, body.token, "body.token")
            if body.amount <= 0:
                raise Problem(422, "Invalid amount", "amount must be positive", field="body.amount")
            balance = ledger.balance(session, body.from_user_id, body.token)
            if balance.available < body.amount:
                raise Problem(
                    422,
                    "Insufficient balance",
                    f"available {balance.available} < amount {body.amount}",
                    field="body.amount",
                )
            t = InternalTransfer(
                id=short_id("itr"),
                from_user_id=body.from_user_id,
                to_user_id=body.to_user_id,
                token=body.token,
                amount=body.amount,
            )
            session.add(t)
            session.flush()
            ledger.post(
                session, body.from_user_id, body.token, "internal_transfer.out", t.id, available=-body.amount
            )
            ledger.post(
                session, body.to_user_id, body.token, "internal_transfer.in", t.id, available=body.amount
            )
            answer = as_json(transfer_out(t))
            emit(session, ExchangeEvent.INTERNAL_TRANSFER_COMPLETED, answer)
            return 201, answer

        response = run_idempotent(db, key, "POST /internal-transfers", body, handle)
        ctx.dispatcher.poke()
        return response

    @router.get("/internal-transfers/{transfer_id}", tags=["transfers"], responses=problem_responses(404))
    def get_internal_transfer(transfer_id: str) -> TransferOut:
        with db.read() as session:
            row = get_or_404(session, InternalTransfer, transfer_id, "path.transfer_id", "internal transfer")
            return transfer_out(row)

    # ---- sweeps ----------------------------------------------------------------------------

    @admin.post("/sweeps", status_code=201, response_model=SweepsCreated)
    def create_sweeps(body: SweepIn, key: IdempotencyKey) -> Any:
        """Sweep every deposit address holding tokens now (the treasury tops up gas first)."""
        scope = "POST /admin/sweeps"
        if body.token is not None and body.token not in settings.tokens:
            raise Problem(422, "Unknown token", f"{body.token} is not listed", field="body.token")
        candidates: list[tuple[str, str, int]] = []
        skipped: list[SweepSkipped] = []
        if not replayable(key, scope):
            core.refresh_network_state(body.token)  # a pause as of now, not the last tick
            candidates, skipped = treasury.sweep_candidates(body.token)

        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            created = treasury.create_sweeps(session, candidates)
            sweeps = [SweepOut.model_validate(s, from_attributes=True) for s in created]
            return 201, as_json(SweepsCreated(sweeps=sweeps, skipped=skipped))

        return run_idempotent(db, key, scope, body, handle)

    @admin.get("/sweeps")
    def list_sweeps(status: Annotated[str | None, Query(max_length=20)] = None) -> SweepList:
        with db.read() as session:
            query = select(Sweep).order_by(Sweep.created_at)
            if status:
                query = query.where(Sweep.status == status)
            return SweepList(
                sweeps=[SweepOut.model_validate(s, from_attributes=True) for s in session.scalars(query)]
            )

    @admin.get("/sweeps/{sweep_id}", responses=problem_responses(404))
    def get_sweep(sweep_id: str) -> SweepOut:
        with db.read() as session:
            row = get_or_404(session, Sweep, sweep_id, "path.sweep_id", "sweep")
            return SweepOut.model_validate(row, from_attributes=True)

    # ---- reconciliation --------------------------------------------------------------------

    @router.get("/reconciliation", tags=["ops"])
    def reconciliation() -> Reconciliation:
        """What the exchange owes its users per token against what its addresses hold on chain,
        and the deposits whose ledger does not add up to one credit (harness.reconcile)."""
        return reconcile_books(core)

    # ---- ops -------------------------------------------------------------------------------

    @admin.post("/rescan", response_model=Rescan)
    def rescan(body: RescanIn, key: IdempotencyKey) -> Any:
        """Move the watcher back to `from_block` (e.g. after a faulty RPC node answered): the
        blocks are scanned again; deposits already recorded are found, not credited twice."""

        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            last = tip(session)
            if last is None or body.from_block > last:
                raise Problem(
                    422, "Nothing to rescan", f"the watcher is at block {last}", field="body.from_block"
                )
            watcher.rewind(session, body.from_block)
            return 200, as_json(Rescan(from_block=body.from_block, previous_last_block=last))

        return run_idempotent(db, key, "POST /admin/rescan", body, handle)

    @router.get("/info", tags=["ops"])
    def info() -> ExchangeInfo:
        with db.read() as session:
            last = tip(session)
        return ExchangeInfo(
            chain_id=core.chain_id,
            network=settings.network_name,
            hot_wallet=core.hot.address,
            gas_funder=core.gas_payer().address,
            last_block=last,
            watcher_ticks=watcher.ticks,
            tokens=core.token_addresses(),
        )

    def seed(_ctx: ServiceContext) -> None:
        core.seed_networks()

    return create_service_app(
        ctx,
        title="Exchange-listing simulator",
        description=(
            "A centralized exchange's view of a BEP-20 token: listing review, deposit addresses, "
            "confirmations and reorgs, sweeps to the hot wallet, withdrawals, internal transfers."
        ),
        routers=[router, admin],
        on_ready=seed,
    )
