"""The bank's published contract: every request body, every answer and the `data` of every
webhook it sends, as pydantic models with `StrEnum` statuses.

The bank's routes (`app`) and its client (`client`) both speak these models, so they are one
contract with two users. This module imports only pydantic, the standard library and
`devnet.core`: loading it loads neither the service nor FastAPI nor SQLAlchemy.

Amounts are integers in minor units (tyiyn, cents), and integers are strict both ways: a float
or a numeric string is refused in a request and in an answer. Timestamps are RFC 3339 in UTC.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictInt, field_validator

from devnet.core.wire import MinorUnits, ProblemDocument

# ---- enumerations -------------------------------------------------------------------------------


class Currency(StrEnum):
    """The currencies the bank keeps accounts in (ISO 4217 alphabetic codes)."""

    KGS = "KGS"
    USD = "USD"


#: Numeric ISO 4217 code of each currency.
ISO4217 = {Currency.KGS: 417, Currency.USD: 840}


class KycTier(StrEnum):
    """How well the bank knows a customer: T0 blocked, T1 at most USD 1,000 per transfer,
    T2 unlimited, T3 institutional."""

    T0 = "T0"
    T1 = "T1"
    T2 = "T2"
    T3 = "T3"


class AccountKind(StrEnum):
    CUSTOMER = "customer"
    #: an issuer's segregated reserve account; its `label` is the token it backs
    RESERVE = "reserve"


class PaymentKind(StrEnum):
    #: cash paid in at a branch (no debtor account)
    CASH = "cash"
    #: a credit transfer between two accounts (pacs.008)
    TRANSFER = "transfer"


class PaymentStatus(StrEnum):
    #: settled at once and irrevocably, as on NBKR's RTGS
    SETTLED = "settled"


class CreditDebit(StrEnum):
    """ISO 20022 CdtDbtInd: which side of the account an entry books."""

    CRDT = "CRDT"
    DBIT = "DBIT"


class BankEvent(StrEnum):
    """The webhook event types the bank sends; both carry an `AccountNotification`."""

    ACCOUNT_CREDITED = "account.credited"
    ACCOUNT_DEBITED = "account.debited"


# ---- account numbers ------------------------------------------------------------------------------

_ACCOUNT_SHAPE = re.compile(r"^\d{16}$")


def account_number_problem(number: str) -> str | None:
    """Why `number` is not a valid account number, or None if it is: 3-digit bank code +
    11-digit account + 2 check digits making the whole number = 1 (mod 97), as ISO 7064
    MOD 97-10 (IBAN)."""
    if not _ACCOUNT_SHAPE.match(number):
        return "an account number is 16 digits"
    if int(number) % 97 != 1:
        return "check digits do not match (mod 97)"
    return None


def _valid_account(value: str) -> str:
    problem = account_number_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# ---- request bodies -------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(_In):
    name: str = Field(min_length=1, max_length=140)
    kyc_tier: KycTier
    country: str = Field(default="KG", pattern=r"^[A-Z]{2}$")


class AccountIn(_In):
    customer_id: str
    currency: Currency


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
    creditor_reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=140,
        description=(
            "structured remittance information (RmtInf/Strd/CdtrRefInf/Ref): the reference the "
            "creditor asked for, e.g. the wallet a token purchase mints to. ISO 20022 keeps it to "
            "35 characters; here it takes up to 140, so that a 42-character address fits"
        ),
    )


class BulkPayment(PaymentIn):
    """One credit transfer of a bulk (a pain.001 `CdtTrfTxInf`)."""

    idempotency_key: str = Field(
        min_length=1,
        max_length=255,
        description=(
            "the Idempotency-Key this transfer would carry alone to POST /payments: the same "
            "key is the same payment, alone or in any bulk, so a bulk sent again after a crash "
            "(or regrouped) pays each transfer once"
        ),
    )


#: Transfers per bulk at most.
BULK_MAX = 100


class BulkPaymentsIn(_In):
    """A bulk credit transfer (ISO 20022 pain.001: one message, many transactions), as a
    company's bank accepts for payroll or payouts. Each transfer is judged and settled on its
    own, as POST /payments would: one refused does not hold up the others."""

    payments: list[BulkPayment] = Field(min_length=1, max_length=BULK_MAX)


# ---- answers -------------------------------------------------------------------------------------


class CustomerOut(BaseModel):
    id: str
    name: str
    kyc_tier: KycTier
    country: str


class AccountOut(BaseModel):
    number: str
    customer_id: str
    currency: Currency
    kind: AccountKind
    label: str | None
    balance: StrictInt


class PaymentOut(BaseModel):
    id: str
    end_to_end_id: str
    debtor_account: str | None
    creditor_account: str
    amount: StrictInt
    currency: Currency
    remittance_info: str
    creditor_reference: str | None = None
    kind: PaymentKind
    status: PaymentStatus
    created_at: datetime


class BulkPaymentResult(BaseModel):
    """One transfer's outcome (a pain.002 transaction status): what POST /payments would have
    answered for it."""

    idempotency_key: str
    status: StrictInt = Field(description="201 when settled, else the problem's status")
    replayed: bool = Field(description="the stored answer of an earlier request with this key")
    payment: PaymentOut | None = Field(default=None, description="the payment, when settled")
    problem: ProblemDocument | None = Field(
        default=None, description="why not, with `field` naming the transfer's input (body.payments[i]...)"
    )


class BulkPaymentsOut(BaseModel):
    """The bulk's status report (pain.002), one result per transfer, in the order sent. A 5xx
    result did nothing: send that transfer again (same key)."""

    results: list[BulkPaymentResult]


class StatementEntry(BaseModel):
    entry_id: StrictInt
    credit_debit: CreditDebit
    amount: StrictInt
    balance_after: StrictInt
    booked_at: datetime
    payment_id: str
    end_to_end_id: str
    counterparty_account: str | None
    remittance_info: str
    creditor_reference: str | None = None


class Statement(BaseModel):
    """An account statement, shaped like ISO 20022 camt.053."""

    account: str
    currency: Currency
    opening_balance: StrictInt
    closing_balance: StrictInt
    entries: list[StatementEntry]


class ReserveAccounts(RootModel[dict[str, str]]):
    """The issuer's segregated reserve account number for each token (e.g. `{"KGST": ...}`)."""


class BankInfo(BaseModel):
    bic: str
    bank_code: str = Field(description="the first three digits of this bank's account numbers")
    currencies: list[Currency]
    iso4217: dict[str, StrictInt] = Field(description="numeric ISO 4217 code of each currency")


# ---- webhook event data ------------------------------------------------------------------------------


class Counterparty(BaseModel):
    account: str | None = Field(description="none for cash")
    name: str | None


class AccountNotification(BaseModel):
    """The `data` of `account.credited` and `account.debited`: one booking on one account,
    shaped like an ISO 20022 camt.054 debit/credit notification."""

    notification: Literal["camt.054"] = "camt.054"
    entry_id: StrictInt
    account: str
    account_label: str | None = Field(description="the token a reserve account backs")
    credit_debit: CreditDebit
    amount: StrictInt
    currency: Currency
    balance_after: StrictInt
    booked_at: datetime
    payment_id: str
    end_to_end_id: str
    remittance_info: str
    creditor_reference: str | None = None
    kind: PaymentKind
    counterparty: Counterparty
