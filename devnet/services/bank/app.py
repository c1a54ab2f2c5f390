"""The bank's HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import SettingsConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devnet.services.bank.accounts import account_number_problem, make_account_number
from devnet.services.bank.models import Account, Customer, Entry, Payment
from devnet.services.common.app import ServiceContext, create_service_app
from devnet.services.common.db import get_or_404, short_id
from devnet.services.common.idempotency import IdempotencyKey, run_idempotent
from devnet.services.common.params import MAX_DB_INT, MinorUnits
from devnet.services.common.problems import Problem, problem_responses
from devnet.services.common.settings import ServiceSettings
from devnet.services.common.webhooks import emit

Currency = Literal["KGS", "USD"]
KycTier = Literal["T0", "T1", "T2", "T3"]
ISSUER_CUSTOMER_ID = "cus_issuer"


class BankSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BANK_", extra="forbid", env_nested_delimiter="__")

    webhook_secret: str = "whsec_devnet_bank"
    bank_code: str = Field(default="103", pattern=r"^\d{3}$")
    bic: str = "MOCKKG22"
    #: KGS per USD x 1000 (87.4, Dec 2025), for tier limits and the Travel Rule threshold.
    kgs_per_usd_milli: int = Field(default=87_400, gt=0)
    #: KYC tier T1: at most USD 1,000 per transfer (in cents).
    t1_limit_usd_cents: int = 100_000
    #: Above this (FATF: USD/EUR 1,000) both parties' names must travel with the payment.
    travel_rule_threshold_usd_cents: int = 100_000
    #: Parties the bank refuses to deal with (names, case-insensitive).
    sanctions_list: list[str] = ["A7 LLC", "Old Vector LLC"]  # noqa: RUF012 - pydantic copies defaults
    issuer_name: str = "Virtual Asset Issuer OJSC"
    #: token -> currency of the issuer's segregated reserve account at this bank
    reserve_accounts: dict[str, Currency] = {"KGST": "KGS", "USDKG": "USD"}  # noqa: RUF012


# ---- request and response bodies --------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(_In):
    name: str = Field(min_length=1, max_length=140)
    kyc_tier: KycTier
    country: str = Field(default="KG", pattern=r"^[A-Z]{2}$")


class CustomerOut(BaseModel):
    id: str
    name: str
    kyc_tier: KycTier
    country: str


class AccountIn(_In):
    customer_id: str
    currency: Currency


class AccountOut(BaseModel):
    number: str
    customer_id: str
    currency: Currency
    kind: str
    label: str | None
    balance: int


def _valid_account(value: str) -> str:
    problem = account_number_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class DepositIn(_In):
    account: str
    amount: MinorUnits
    currency: Currency

    _account = field_validator("account")(_valid_account)


class Party(_In):
    account: str
    name: str | None = Field(default=None, max_length=140)

    _account = field_validator("account")(_valid_account)


class PaymentIn(_In):
    """A customer credit transfer, shaped like ISO 20022 pacs.008."""

    end_to_end_id: str = Field(min_length=1, max_length=35)
    debtor: Party
    creditor: Party
    amount: MinorUnits
    currency: Currency
    remittance_info: str = Field(default="", max_length=140)


class PaymentOut(BaseModel):
    id: str
    end_to_end_id: str
    debtor_account: str | None
    creditor_account: str
    amount: int
    currency: Currency
    remittance_info: str
    kind: str
    status: str
    created_at: datetime


class StatementEntry(BaseModel):
    entry_id: int
    credit_debit: Literal["CRDT", "DBIT"]
    amount: int
    balance_after: int
    booked_at: datetime
    payment_id: str
    end_to_end_id: str
    counterparty_account: str | None
    remittance_info: str


class Statement(BaseModel):
    """An account statement, shaped like ISO 20022 camt.053."""

    account: str
    currency: Currency
    opening_balance: int
    closing_balance: int
    entries: list[StatementEntry]


class BankInfo(BaseModel):
    bic: str
    bank_code: str = Field(description="the first three digits of this bank's account numbers")
    currencies: list[Currency]
    iso4217: dict[str, int] = Field(description="numeric ISO 4217 code of each currency")


# ---- the bank ---------------------------------------------------------------------------------


class Bank:
    def __init__(self, settings: BankSettings):
        self.s = settings

    def usd_cents(self, amount: int, currency: str) -> int:
        if currency == "USD":
            return amount
        return amount * 1000 // self.s.kgs_per_usd_milli

    def screen(self, name: str | None, field: str) -> None:
        if name and name.strip().lower() in {n.lower() for n in self.s.sanctions_list}:
            raise Problem(403, "Sanctioned party", f"{name} is on the bank's sanctions list", field=field)

    def open_account(
        self,
        session: Session,
        customer_id: str,
        currency: str,
        kind: str = "customer",
        label: str | None = None,
    ) -> Account:
        serial = (session.scalar(select(func.max(Account.serial))) or 0) + 1
        account = Account(
            number=make_account_number(self.s.bank_code, serial),
            serial=serial,
            customer_id=customer_id,
            currency=currency,
            kind=kind,
            label=label,
            balance=0,
        )
        session.add(account)
        session.flush()
        return account

    def _account(self, session: Session, number: str, field: str) -> Account:
        account = session.get(Account, number)
        if account is None:
            raise Problem(422, "Unknown account", f"no account {number} at this bank", field=field)
        return account

    def _book(
        self,
        session: Session,
        account: Account,
        payment: Payment,
        credit_debit: str,
        counterparty: tuple[str | None, str | None],
    ) -> None:
        if credit_debit == "CRDT" and account.balance + payment.amount > MAX_DB_INT:
            raise Problem(
                422,
                "Balance limit exceeded",
                f"account {account.number} would hold more than {MAX_DB_INT} minor units",
                field="body.amount",
            )
        account.balance += payment.amount if credit_debit == "CRDT" else -payment.amount
        entry = Entry(
            account_number=account.number,
            payment_id=payment.id,
            credit_debit=credit_debit,
            amount=payment.amount,
            balance_after=account.balance,
        )
        session.add(entry)
        session.flush()
        emit(
            session,
            "account.credited" if credit_debit == "CRDT" else "account.debited",
            {
                "notification": "camt.054",
                "entry_id": entry.id,
                "account": account.number,
                "account_label": account.label,
                "credit_debit": credit_debit,
                "amount": payment.amount,
                "currency": payment.currency,
                "balance_after": account.balance,
                "booked_at": entry.booked_at.isoformat(),
                "payment_id": payment.id,
                "end_to_end_id": payment.end_to_end_id,
                "remittance_info": payment.remittance_info,
                "kind": payment.kind,
                "counterparty": {"account": counterparty[0], "name": counterparty[1]},
            },
        )

    def deposit(self, session: Session, body: DepositIn) -> Payment:
        account = self._account(session, body.account, "body.account")
        if account.currency != body.currency:
            raise Problem(
                422,
                "Currency mismatch",
                f"account {account.number} is in {account.currency}",
                field="body.currency",
            )
        payment = Payment(
            id=short_id("pmt"),
            end_to_end_id=short_id("cash")[:35],
            debtor_account=None,
            creditor_account=account.number,
            amount=body.amount,
            currency=body.currency,
            remittance_info="cash deposit",
            kind="cash",
        )
        session.add(payment)
        session.flush()
        self._book(session, account, payment, "CRDT", (None, "cash"))
        return payment

    def transfer(self, session: Session, body: PaymentIn) -> Payment:
        debtor = self._account(session, body.debtor.account, "body.debtor.account")
        creditor = self._account(session, body.creditor.account, "body.creditor.account")
        if debtor.number == creditor.number:
            raise Problem(
                422, "Same account", "debtor and creditor are the same account", field="body.creditor.account"
            )
        for account, side in ((debtor, "debtor"), (creditor, "creditor")):
            if account.currency != body.currency:
                raise Problem(
                    422,
                    "Currency mismatch",
                    f"{side} account is in {account.currency}",
                    field="body.currency",
                )
        debtor_customer = session.get(Customer, debtor.customer_id)
        creditor_customer = session.get(Customer, creditor.customer_id)
        assert debtor_customer is not None and creditor_customer is not None
        for customer, side in ((debtor_customer, "debtor"), (creditor_customer, "creditor")):
            if customer.kyc_tier == "T0":
                raise Problem(
                    403,
                    "Customer not identified",
                    f"{side} is KYC tier T0: blocked",
                    field=f"body.{side}.account",
                )
        self.screen(body.debtor.name, "body.debtor.name")
        self.screen(body.creditor.name, "body.creditor.name")
        usd = self.usd_cents(body.amount, body.currency)
        if debtor_customer.kyc_tier == "T1" and usd > self.s.t1_limit_usd_cents:
            raise Problem(
                403,
                "Above the KYC tier limit",
                f"tier T1 may send at most USD {self.s.t1_limit_usd_cents // 100:,} per transfer",
                field="body.amount",
            )
        if usd > self.s.travel_rule_threshold_usd_cents:
            for party, side in ((body.debtor, "debtor"), (body.creditor, "creditor")):
                if not party.name:
                    raise Problem(
                        422,
                        "Travel Rule data required",
                        f"{side} name required above USD {self.s.travel_rule_threshold_usd_cents // 100:,}",
                        field=f"body.{side}.name",
                    )
        if debtor.balance < body.amount:
            raise Problem(
                422, "Insufficient funds", f"balance {debtor.balance} < {body.amount}", field="body.amount"
            )
        payment = Payment(
            id=short_id("pmt"),
            end_to_end_id=body.end_to_end_id,
            debtor_account=debtor.number,
            debtor_name=body.debtor.name,
            creditor_account=creditor.number,
            creditor_name=body.creditor.name,
            amount=body.amount,
            currency=body.currency,
            remittance_info=body.remittance_info,
            kind="transfer",
        )
        session.add(payment)
        session.flush()
        self._book(session, debtor, payment, "DBIT", (creditor.number, body.creditor.name))
        self._book(session, creditor, payment, "CRDT", (debtor.number, body.debtor.name))
        return payment


def _payment_out(p: Payment) -> dict[str, Any]:
    return PaymentOut.model_validate(p, from_attributes=True).model_dump(mode="json")


def _account_out(a: Account) -> dict[str, Any]:
    return AccountOut.model_validate(a, from_attributes=True).model_dump(mode="json")


def create_app(settings: BankSettings | None = None) -> FastAPI:
    settings = settings or BankSettings()
    ctx = ServiceContext("bank", settings)
    bank = Bank(settings)
    db = ctx.db
    router = APIRouter()

    @router.post(
        "/customers",
        status_code=201,
        response_model=CustomerOut,
        tags=["customers"],
        responses=problem_responses(403),
    )
    def create_customer(body: CustomerIn, key: IdempotencyKey) -> Any:
        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            bank.screen(body.name, "body.name")
            customer = Customer(
                id=short_id("cus"), name=body.name, kyc_tier=body.kyc_tier, country=body.country
            )
            session.add(customer)
            return 201, CustomerOut.model_validate(customer, from_attributes=True).model_dump()

        return run_idempotent(db, key, "POST /customers", body, handle)

    @router.get(
        "/customers/{customer_id}",
        response_model=CustomerOut,
        tags=["customers"],
        responses=problem_responses(404),
    )
    def get_customer(customer_id: str) -> Any:
        with db.transaction() as session:
            customer = get_or_404(session, Customer, customer_id, "path.customer_id", "customer")
            return CustomerOut.model_validate(customer, from_attributes=True)

    @router.post("/accounts", status_code=201, response_model=AccountOut, tags=["accounts"])
    def create_account(body: AccountIn, key: IdempotencyKey) -> Any:
        def handle(session: Session) -> tuple[int, dict[str, Any]]:
            if session.get(Customer, body.customer_id) is None:
                raise Problem(422, "Unknown customer", field="body.customer_id")
            return 201, _account_out(bank.open_account(session, body.customer_id, body.currency))

        return run_idempotent(db, key, "POST /accounts", body, handle)

    @router.get(
        "/accounts/{number}", response_model=AccountOut, tags=["accounts"], responses=problem_responses(404)
    )
    def get_account(number: str) -> Any:
        with db.transaction() as session:
            return _account_out(get_or_404(session, Account, number, "path.number", "account"))

    @router.get(
        "/accounts/{number}/statement",
        response_model=Statement,
        tags=["accounts"],
        responses=problem_responses(404),
    )
    def statement(
        number: str,
        after_entry: Annotated[int, Query(ge=0, le=MAX_DB_INT, description="only entries after this id")] = 0,
    ) -> Any:
        with db.transaction() as session:
            account = get_or_404(session, Account, number, "path.number", "account")
            rows = session.execute(
                select(Entry, Payment)
                .join(Payment, Entry.payment_id == Payment.id)
                .where(Entry.account_number == number, Entry.id > after_entry)
                .order_by(Entry.id)
            ).all()
            entries = [
                StatementEntry(
                    entry_id=e.id,
                    credit_debit=e.credit_debit,  # type: ignore[arg-type]
                    amount=e.amount,
                    balance_after=e.balance_after,
                    booked_at=e.booked_at,
                    payment_id=p.id,
                    end_to_end_id=p.end_to_end_id,
                    counterparty_account=p.creditor_account if e.credit_debit == "DBIT" else p.debtor_account,
                    remittance_info=p.remittance_info,
                )
                for e, p in rows
            ]
            first = entries[0] if entries else None
            opening = (
                account.balance
                if first is None
                else first.balance_after + (first.amount if first.credit_debit == "DBIT" else -first.amount)
            )
            return Statement(
                account=number,
                currency=account.currency,  # type: ignore[arg-type]
                opening_balance=opening,
                closing_balance=entries[-1].balance_after if entries else account.balance,
                entries=entries,
            )

    @router.post("/deposits", status_code=201, response_model=PaymentOut, tags=["payments"])
    def deposit(body: DepositIn, key: IdempotencyKey) -> Any:
        """Cash paid in at a branch: how tests fund customer accounts."""
        response = run_idempotent(
            db, key, "POST /deposits", body, lambda s: (201, _payment_out(bank.deposit(s, body)))
        )
        ctx.dispatcher.poke()
        return response

    @router.post(
        "/payments",
        status_code=201,
        response_model=PaymentOut,
        tags=["payments"],
        responses=problem_responses(403),
    )
    def create_payment(body: PaymentIn, key: IdempotencyKey) -> Any:
        """A credit transfer (pacs.008), settled at once and irrevocably, as on NBKR's RTGS."""
        response = run_idempotent(
            db, key, "POST /payments", body, lambda s: (201, _payment_out(bank.transfer(s, body)))
        )
        ctx.dispatcher.poke()
        return response

    @router.get(
        "/payments/{payment_id}",
        response_model=PaymentOut,
        tags=["payments"],
        responses=problem_responses(404),
    )
    def get_payment(payment_id: str) -> Any:
        with db.transaction() as session:
            return _payment_out(get_or_404(session, Payment, payment_id, "path.payment_id", "payment"))

    @router.get("/reserve-accounts", tags=["issuer"])
    def reserve_accounts() -> dict[str, str]:
        """The issuer's segregated reserve account for each token."""
        with db.transaction() as session:
            rows = session.scalars(select(Account).where(Account.kind == "reserve"))
            return {a.label or "": a.number for a in rows}

    @router.get("/info", tags=["ops"])
    def info() -> BankInfo:
        return BankInfo(
            bic=settings.bic,
            bank_code=settings.bank_code,
            currencies=["KGS", "USD"],
            iso4217={"KGS": 417, "USD": 840},
        )

    def seed(ctx: ServiceContext) -> None:
        """The issuer and its reserve accounts exist from the first start on."""
        with db.transaction() as session:
            if session.get(Customer, ISSUER_CUSTOMER_ID) is None:
                session.add(
                    Customer(id=ISSUER_CUSTOMER_ID, name=settings.issuer_name, kyc_tier="T3", country="KG")
                )
                session.flush()
            have = {a.label for a in session.scalars(select(Account).where(Account.kind == "reserve"))}
            for token, currency in settings.reserve_accounts.items():
                if token not in have:
                    bank.open_account(session, ISSUER_CUSTOMER_ID, currency, kind="reserve", label=token)

    return create_service_app(
        ctx,
        title="Mock bank",
        description=(
            "A commercial bank in KGS and USD: KYC tiers, pacs.008 payments settled in real time, "
            "camt.053 statements, camt.054 webhooks."
        ),
        routers=[router],
        on_ready=seed,
    )
