"""The bank's and the custodian's published contracts (`api`), without services: the models read
the JSON the services answered and sent before the models existed (each literal below is one
real answer or webhook `data`, recorded from the services), write it back the same, and refuse
statuses, kinds and currencies the contract does not know, and amounts that are not integers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from devnet.services.bank.api import (
    AccountNotification,
    AccountOut,
    BankInfo,
    CustomerOut,
    PaymentOut,
    ReserveAccounts,
    Statement,
)
from devnet.services.custodian.api import (
    AttestationOut,
    BarList,
    BarMoved,
    BarOut,
    CustodianInfo,
    PriceOut,
    PriceStateOut,
    PriceUpdated,
    WeightList,
)
from devnet.services.custodian.client import verify_attestation

# ---- the bank's answers and webhook data ----
CUSTOMER: dict[str, Any] = {
    "id": "cus_559c66cf95cc4d8d7085",
    "name": "Aibek",
    "kyc_tier": "T2",
    "country": "KG",
}
ACCOUNT: dict[str, Any] = {
    "number": "1030000000000396",
    "customer_id": "cus_559c66cf95cc4d8d7085",
    "currency": "KGS",
    "kind": "customer",
    "label": None,
    "balance": 252000,
}
CASH_DEPOSIT: dict[str, Any] = {
    "id": "pmt_85b4ffeff45b75bba45c",
    "end_to_end_id": "cash_a07157fa842a040e15f2",
    "debtor_account": None,
    "creditor_account": "1030000000000396",
    "amount": 2000000,
    "currency": "KGS",
    "remittance_info": "cash deposit",
    "kind": "cash",
    "status": "settled",
    "created_at": "2026-12-03T11:32:32.683708Z",
}
TRANSFER: dict[str, Any] = {
    "id": "pmt_abcde21060b031434993",
    "end_to_end_id": "E2E-1",
    "debtor_account": "1030000000000396",
    "creditor_account": "1030000000000493",
    "amount": 1748000,
    "currency": "KGS",
    "remittance_info": "family support",
    "kind": "transfer",
    "status": "settled",
    "created_at": "2026-12-03T11:32:32.890013Z",
}
STATEMENT: dict[str, Any] = {
    "account": "1030000000000396",
    "currency": "KGS",
    "opening_balance": 0,
    "closing_balance": 252000,
    "entries": [
        {
            "entry_id": 1,
            "credit_debit": "CRDT",
            "amount": 2000000,
            "balance_after": 2000000,
            "booked_at": "2026-12-03T11:32:32.700747Z",
            "payment_id": "pmt_85b4ffeff45b75bba45c",
            "end_to_end_id": "cash_a07157fa842a040e15f2",
            "counterparty_account": None,
            "remittance_info": "cash deposit",
        },
        {
            "entry_id": 2,
            "credit_debit": "DBIT",
            "amount": 1748000,
            "balance_after": 252000,
            "booked_at": "2026-12-03T11:32:32.891010Z",
            "payment_id": "pmt_abcde21060b031434993",
            "end_to_end_id": "E2E-1",
            "counterparty_account": "1030000000000493",
            "remittance_info": "family support",
        },
    ],
}
RESERVE_ACCOUNTS: dict[str, Any] = {"KGST": "1030000000000105", "USDKG": "1030000000000202"}
BANK_INFO: dict[str, Any] = {
    "bic": "MOCKKG22",
    "bank_code": "103",
    "currencies": ["KGS", "USD"],
    "iso4217": {"KGS": 417, "USD": 840},
}
CREDITED: dict[str, Any] = {
    "notification": "camt.054",
    "entry_id": 1,
    "account": "1030000000000396",
    "account_label": None,
    "credit_debit": "CRDT",
    "amount": 2000000,
    "currency": "KGS",
    "balance_after": 2000000,
    "booked_at": "2026-12-03T11:32:32.700747+00:00",
    "payment_id": "pmt_85b4ffeff45b75bba45c",
    "end_to_end_id": "cash_a07157fa842a040e15f2",
    "remittance_info": "cash deposit",
    "kind": "cash",
    "counterparty": {"account": None, "name": "cash"},
}
DEBITED: dict[str, Any] = {
    "notification": "camt.054",
    "entry_id": 2,
    "account": "1030000000000396",
    "account_label": None,
    "credit_debit": "DBIT",
    "amount": 1748000,
    "currency": "KGS",
    "balance_after": 252000,
    "booked_at": "2026-12-03T11:32:32.891010+00:00",
    "payment_id": "pmt_abcde21060b031434993",
    "end_to_end_id": "E2E-1",
    "remittance_info": "family support",
    "kind": "transfer",
    "counterparty": {"account": "1030000000000493", "name": "Gulnara"},
}
# ---- the custodian's answers and webhook data ----
BAR: dict[str, Any] = {
    "serial": "KG-1",
    "brand": "Kyrgyzaltyn",
    "year": 2025,
    "gross_oz_milli": 400000,
    "assay_tenths": 9999,
    "fine_oz_milli": 399960,
    "status": "allocated",
    "pool": "USDKG",
    "deposited_at": "2026-12-03T11:32:33.994944Z",
    "released_at": None,
}
BARS: dict[str, Any] = {
    "bars": [
        {
            "serial": "KG-1",
            "brand": "Kyrgyzaltyn",
            "year": 2025,
            "gross_oz_milli": 400000,
            "assay_tenths": 9999,
            "fine_oz_milli": 399960,
            "status": "allocated",
            "pool": "USDKG",
            "deposited_at": "2026-12-03T11:32:33.994944Z",
            "released_at": None,
        },
        {
            "serial": "KG-2",
            "brand": "Kyrgyzaltyn",
            "year": 2025,
            "gross_oz_milli": 400000,
            "assay_tenths": 9999,
            "fine_oz_milli": 399960,
            "status": "released",
            "pool": None,
            "deposited_at": "2026-12-03T11:32:34.096709Z",
            "released_at": "2026-12-03T11:32:34.267691Z",
        },
    ]
}
WEIGHT_LIST: dict[str, Any] = {
    "pool": "USDKG",
    "as_of": 1796297554,
    "bars": [
        {
            "serial": "KG-1",
            "brand": "Kyrgyzaltyn",
            "year": 2025,
            "gross_oz_milli": 400000,
            "assay_tenths": 9999,
            "fine_oz_milli": 399960,
            "status": "allocated",
            "pool": "USDKG",
            "deposited_at": "2026-12-03T11:32:33.994944Z",
            "released_at": None,
        }
    ],
    "totals": {"bar_count": 1, "gross_oz_milli": 400000, "fine_oz_milli": 399960},
}
ATTESTATION: dict[str, Any] = {
    "id": "att_673aa9760b66caf269c9",
    "pool": "USDKG",
    "total_fine_oz_milli": 399960,
    "bar_count": 1,
    "as_of": 1796297554,
    "message": (
        "gold-custody-attestation/v1\npool=USDKG\ntotal_fine_oz_milli=399960\nbar_count=1\nas_of=1796297554"
    ),
    "signature": (
        "0xdc3392b669ed5284c0471b83140e839b557e5ad800c1bde1232d8447aedaf34a"
        "5877b45b567863c2cf24050bc30ed9ab98a8229ad06243060d3a72a1b5d2e2a51c"
    ),
    "signer": "0x974983805C608755D270DeE85fB71073C1D4A9BD",
}
PRICE: dict[str, Any] = {
    "pair": "XAU/USD",
    "price_e8": 264729304132,
    "as_of": 1796297554,
    "path": "random_walk",
}
RANDOM_WALK_STATE: dict[str, Any] = {
    "config": {
        "path": "random_walk",
        "seed": 7,
        "start_price_e8": 265000000000,
        "step_bps": 50,
        "floor_price_e8": 1,
    },
    "tick": 3,
    "price_e8": 264729304132,
    "as_of": 1796297554,
    "started_at": 1796297554,
}
SHOCK_STATE: dict[str, Any] = {
    "config": {
        "path": "shock",
        "start_price_e8": 265000000000,
        "steps": [
            {"at_tick": 2, "after_s": None, "price_e8": 250000000000},
            {"at_tick": None, "after_s": 60, "price_e8": 240000000000},
        ],
    },
    "tick": 0,
    "price_e8": 265000000000,
    "as_of": 1796297555,
    "started_at": 1796297555,
}
CUSTODIAN_INFO: dict[str, Any] = {
    "custodian": "Devnet Gold Vault",
    "signer": "0x974983805C608755D270DeE85fB71073C1D4A9BD",
    "pools": ["USDKG"],
    "pair": "XAU/USD",
}
BAR_DEPOSITED: dict[str, Any] = {
    "serial": "KG-1",
    "brand": "Kyrgyzaltyn",
    "year": 2025,
    "gross_oz_milli": 400000,
    "assay_tenths": 9999,
    "fine_oz_milli": 399960,
    "status": "vaulted",
    "pool": None,
    "deposited_at": "2026-12-03T11:32:33.994944Z",
    "released_at": None,
}
BAR_RELEASED: dict[str, Any] = {
    "serial": "KG-2",
    "brand": "Kyrgyzaltyn",
    "year": 2025,
    "gross_oz_milli": 400000,
    "assay_tenths": 9999,
    "fine_oz_milli": 399960,
    "status": "released",
    "pool": None,
    "deposited_at": "2026-12-03T11:32:34.096709Z",
    "released_at": "2026-12-03T11:32:34.267691Z",
    "previous_pool": None,
}
PRICE_SET: dict[str, Any] = {
    "pair": "XAU/USD",
    "price_e8": 265000000000,
    "as_of": 1796297551,
    "path": "constant",
    "tick": 0,
    "previous_price_e8": None,
}
PRICE_MOVED: dict[str, Any] = {
    "pair": "XAU/USD",
    "price_e8": 265000000000,
    "as_of": 1796297555,
    "path": "shock",
    "tick": 0,
    "previous_price_e8": 264729304132,
}


def _z(stamp: str) -> str:
    """How pydantic writes a UTC timestamp: "Z" rather than "+00:00"."""
    return datetime.fromisoformat(stamp).isoformat().replace("+00:00", "Z")


def _with_reference(payment: dict[str, Any]) -> dict[str, Any]:
    """A payment as answered now: the same, plus its structured creditor reference (none)."""
    return {**payment, "creditor_reference": None}


def _notification(data: dict[str, Any]) -> dict[str, Any]:
    """A camt.054 notification as sent now: the creditor reference added, the booking time
    written as every other answer of the bank writes it."""
    return {**_with_reference(data), "booked_at": _z(data["booked_at"])}


ROUND_TRIPS: list[tuple[str, type[BaseModel], dict[str, Any], dict[str, Any]]] = [
    ("customer", CustomerOut, CUSTOMER, CUSTOMER),
    ("account", AccountOut, ACCOUNT, ACCOUNT),
    ("cash deposit", PaymentOut, CASH_DEPOSIT, _with_reference(CASH_DEPOSIT)),
    ("transfer", PaymentOut, TRANSFER, _with_reference(TRANSFER)),
    (
        "statement",
        Statement,
        STATEMENT,
        {**STATEMENT, "entries": [_with_reference(e) for e in STATEMENT["entries"]]},
    ),
    ("reserve accounts", ReserveAccounts, RESERVE_ACCOUNTS, RESERVE_ACCOUNTS),
    ("bank info", BankInfo, BANK_INFO, BANK_INFO),
    ("account.credited", AccountNotification, CREDITED, _notification(CREDITED)),
    ("account.debited", AccountNotification, DEBITED, _notification(DEBITED)),
    ("bar", BarOut, BAR, BAR),
    ("bars", BarList, BARS, BARS),
    ("weight list", WeightList, WEIGHT_LIST, WEIGHT_LIST),
    ("attestation", AttestationOut, ATTESTATION, ATTESTATION),
    ("price", PriceOut, PRICE, PRICE),
    ("random walk state", PriceStateOut, RANDOM_WALK_STATE, RANDOM_WALK_STATE),
    ("shock state", PriceStateOut, SHOCK_STATE, SHOCK_STATE),
    ("custodian info", CustodianInfo, CUSTODIAN_INFO, CUSTODIAN_INFO),
    ("bar.deposited", BarOut, BAR_DEPOSITED, BAR_DEPOSITED),
    ("bar.released", BarMoved, BAR_RELEASED, BAR_RELEASED),
    ("price.updated, first path", PriceUpdated, PRICE_SET, PRICE_SET),
    ("price.updated", PriceUpdated, PRICE_MOVED, PRICE_MOVED),
]


@pytest.mark.parametrize(
    ("model", "recorded", "now"), [t[1:] for t in ROUND_TRIPS], ids=[t[0] for t in ROUND_TRIPS]
)
def test_what_the_services_answered_reads_and_writes_back_the_same(
    model: type[BaseModel], recorded: dict[str, Any], now: dict[str, Any]
) -> None:
    assert model.model_validate(recorded).model_dump(mode="json") == now


def test_the_camt054_booking_time_is_the_same_instant() -> None:
    booked = AccountNotification.model_validate(CREDITED).booked_at
    assert booked == datetime.fromisoformat(CREDITED["booked_at"]) and booked.utcoffset() is not None


@pytest.mark.parametrize(
    ("model", "recorded", "field", "unknown"),
    [
        (PaymentOut, TRANSFER, "status", "pending"),
        (PaymentOut, TRANSFER, "kind", "cheque"),
        (PaymentOut, TRANSFER, "currency", "EUR"),
        (AccountOut, ACCOUNT, "kind", "escrow"),
        (CustomerOut, CUSTOMER, "kyc_tier", "T4"),
        (AccountNotification, CREDITED, "credit_debit", "CRDTDBIT"),
        (AccountNotification, CREDITED, "notification", "camt.053"),
        (BarOut, BAR, "status", "stolen"),
        (PriceOut, PRICE, "path", "sine"),
    ],
)
def test_unknown_statuses_kinds_and_currencies_are_refused(
    model: type[BaseModel], recorded: dict[str, Any], field: str, unknown: str
) -> None:
    model.model_validate(recorded)
    with pytest.raises(ValidationError) as e:
        model.model_validate({**recorded, field: unknown})
    assert [error["loc"] for error in e.value.errors()] == [(field,)]


def test_a_statement_entry_with_an_unknown_side_is_refused() -> None:
    entries = [{**STATEMENT["entries"][0], "credit_debit": "BOTH"}]
    with pytest.raises(ValidationError):
        Statement.model_validate({**STATEMENT, "entries": entries})


@pytest.mark.parametrize(
    ("model", "recorded", "field"),
    [(PaymentOut, TRANSFER, "amount"), (AccountOut, ACCOUNT, "balance"), (PriceOut, PRICE, "price_e8")],
)
@pytest.mark.parametrize("not_an_integer", [1.5, 100.0, "100", True])
def test_amounts_are_integers_on_the_wire(
    model: type[BaseModel], recorded: dict[str, Any], field: str, not_an_integer: object
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({**recorded, field: not_an_integer})


def test_an_attestation_verifies_against_its_own_fields() -> None:
    attestation = AttestationOut.model_validate(ATTESTATION)
    assert verify_attestation(attestation) == ATTESTATION["signer"]
    inflated = attestation.model_copy(update={"total_fine_oz_milli": attestation.total_fine_oz_milli * 2})
    with pytest.raises(ValueError, match="does not match its fields"):
        verify_attestation(inflated)
