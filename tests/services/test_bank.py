"""The mock bank over real HTTP, plus the rules every service shares (idempotency, problem
documents, signed webhooks, fault injection, crash safety)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devnet.core.http import ApiError
from devnet.core.wait import wait_until
from devnet.core.webhooks import sign
from devnet.services.bank.accounts import make_account_number
from devnet.services.bank.api import (
    AccountNotification,
    BulkPayment,
    CreditDebit,
    Currency,
    Party,
    PaymentStatus,
    account_number_problem,
)
from devnet.services.bank.client import BankClient
from devnet.services.common.problems import Problem
from devnet.services.common.webhooks import verify
from devnet.services.launch import ServiceHandle, start_service
from harness.webhook_sink import WebhookSink

# One module, one world: xdist keeps these tests on one worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("bank-service")

SECRET = "whsec_devnet_bank"


@pytest.fixture(scope="module")
def sink() -> Iterator[WebhookSink]:
    s = WebhookSink(SECRET)
    yield s
    s.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sink: WebhookSink) -> Iterator[ServiceHandle]:
    handle = start_service(
        "bank", tmp_path_factory.mktemp("bank"), settings={"webhook_subscribers": [sink.url]}
    )
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def bank(service: ServiceHandle) -> Iterator[BankClient]:
    client = BankClient(service.url)
    yield client
    client.close()


def _customer_with_account(bank: BankClient, tier: str = "T2", currency: str = "KGS", funds: int = 0) -> str:
    customer = bank.create_customer(f"Customer {uuid.uuid4().hex[:6]}", tier)
    number = bank.open_account(customer.id, currency).number
    if funds:
        bank.deposit(number, funds, currency)
    return number


# ---- account numbers ------------------------------------------------------------------------------


def test_account_numbers_carry_mod_97_check_digits() -> None:
    number = make_account_number("103", 12345)
    assert len(number) == 16 and number.startswith("10300000012345")
    assert account_number_problem(number) is None
    wrong_check = number[:-2] + f"{(int(number[-2:]) + 1) % 100:02d}"
    assert account_number_problem(wrong_check) == "check digits do not match (mod 97)"
    typo = number[:5] + str((int(number[5]) + 1) % 10) + number[6:]
    assert account_number_problem(typo) is not None
    assert account_number_problem("12345") == "an account number is 16 digits"


def test_bad_account_number_is_refused_naming_the_field(bank: BankClient) -> None:
    good = _customer_with_account(bank, funds=100_00)
    with pytest.raises(ApiError) as e:
        bank.pay(good, "1030000000000199", 1_00, "KGS", end_to_end_id="e2e-bad")
    assert e.value.status == 422 and e.value.field == "body.creditor.account"


# ---- payments --------------------------------------------------------------------------------------


def test_payment_settles_at_once_with_statement_and_notifications(
    bank: BankClient, sink: WebhookSink
) -> None:
    payer = _customer_with_account(bank, funds=20_000_00)
    payee = _customer_with_account(bank)
    payment = bank.pay(
        payer, payee, 17_480_00, "KGS", end_to_end_id="E2E-REMIT-1", remittance_info="family support"
    )
    assert payment.status == PaymentStatus.SETTLED
    assert bank.balance(payer) == 2_520_00
    assert bank.balance(payee) == 17_480_00
    statement = bank.statement(payer)
    assert statement.opening_balance == 0 and statement.closing_balance == 2_520_00
    assert [(e.credit_debit, e.amount) for e in statement.entries] == [
        (CreditDebit.CRDT, 20_000_00),
        (CreditDebit.DBIT, 17_480_00),
    ]
    assert statement.entries[1].end_to_end_id == "E2E-REMIT-1"
    assert statement.entries[1].counterparty_account == payee
    events = sink.wait_for(
        lambda ev: any(e["type"] == "account.credited" and e["data"]["account"] == payee for e in ev)
    )
    credit = AccountNotification.model_validate(
        next(e for e in events if e["type"] == "account.credited" and e["data"]["account"] == payee)["data"]
    )
    assert (credit.notification, credit.credit_debit, credit.amount) == (
        "camt.054",
        CreditDebit.CRDT,
        17_480_00,
    )
    assert credit.counterparty.account == payer
    assert credit.remittance_info == "family support"


def test_a_notification_says_what_the_statement_line_says(bank: BankClient, sink: WebhookSink) -> None:
    """camt.054 and camt.053 describe the same booking: same entry id, amount, balance after and
    booking time (with its UTC offset), for the debit and the credit of one payment."""
    payer = _customer_with_account(bank, funds=5_000_00)
    payee = _customer_with_account(bank)
    payment = bank.pay(payer, payee, 1_234_56, "KGS", end_to_end_id="E2E-BOOKS-1", remittance_info="books")
    assert payment.created_at.utcoffset() is not None
    for account, kind in ((payer, "account.debited"), (payee, "account.credited")):

        def about(e: dict[str, Any], account: str = account, kind: str = kind) -> bool:
            data = e["data"]
            return e["type"] == kind and data["payment_id"] == payment.id and data["account"] == account

        events = sink.wait_for(lambda ev, about=about: any(about(e) for e in ev))
        told = AccountNotification.model_validate(next(e["data"] for e in events if about(e)))
        line = next(e for e in bank.statement(account).entries if e.payment_id == payment.id)
        assert (told.entry_id, told.credit_debit, told.amount, told.balance_after, told.booked_at) == (
            line.entry_id,
            line.credit_debit,
            line.amount,
            line.balance_after,
            line.booked_at,
        )
        assert told.booked_at.utcoffset() is not None
        assert (told.end_to_end_id, told.remittance_info) == ("E2E-BOOKS-1", "books")
    assert bank.balance(payer) == 5_000_00 - 1_234_56


def test_a_subscription_to_some_accounts_hears_of_those_only(bank: BankClient, sink: WebhookSink) -> None:
    """As a bank notifies a customer of its own accounts: the issuer subscribes to its reserve
    accounts and hears nothing of other customers' bookings (one delivery per event it needs)."""
    payer = _customer_with_account(bank, funds=100_00)
    watched, other = _customer_with_account(bank), _customer_with_account(bank)
    narrow = WebhookSink(SECRET)
    try:
        bank.subscribe(narrow.url, [watched])
        bank.pay(payer, other, 1_00, "KGS", end_to_end_id="E2E-SUB-OTHER")
        paid = bank.pay(payer, watched, 2_00, "KGS", end_to_end_id="E2E-SUB-WATCHED")
        events = narrow.wait_for(lambda ev: any(e["data"]["payment_id"] == paid.id for e in ev))
        # the broad subscriber got the other payment first (one dispatcher, in order) ...
        sink.wait_for(lambda ev: any(e["data"]["end_to_end_id"] == "E2E-SUB-OTHER" for e in ev))
        # ... the narrow one only the credit to its account
        assert [(e["type"], e["data"]["account"]) for e in events] == [("account.credited", watched)]

        # a second subscription replaces the first's subjects, from the next event on
        bank.subscribe(narrow.url, [other])
        bank.pay(payer, watched, 3_00, "KGS", end_to_end_id="E2E-SUB-WATCHED-2")
        moved = bank.pay(payer, other, 4_00, "KGS", end_to_end_id="E2E-SUB-OTHER-2")
        events = narrow.wait_for(lambda ev: any(e["data"]["payment_id"] == moved.id for e in ev))
        heard = [(e["data"]["account"], e["data"]["amount"]) for e in events]
        assert heard == [(watched, 2_00), (other, 4_00)]
    finally:
        narrow.close()


def test_a_subscription_to_credits_hears_of_no_debits(bank: BankClient, sink: WebhookSink) -> None:
    """The issuer's subscription: its accounts, credit notifications only. A payment out of the
    watched account (a payout) is not delivered; one into it is; a subscription for every type
    again hears of both."""
    watched = _customer_with_account(bank, funds=100_00)
    other = _customer_with_account(bank, funds=100_00)
    narrow = WebhookSink(SECRET)
    try:
        bank.subscribe(narrow.url, [watched], events=["account.credited"])
        bank.pay(watched, other, 1_00, "KGS", end_to_end_id="E2E-TYPE-OUT")
        into = bank.pay(other, watched, 2_00, "KGS", end_to_end_id="E2E-TYPE-IN")
        events = narrow.wait_for(lambda ev: any(e["data"]["payment_id"] == into.id for e in ev))
        heard = [(e["type"], e["data"]["end_to_end_id"]) for e in events]
        assert heard == [("account.credited", "E2E-TYPE-IN")]

        bank.subscribe(narrow.url, [watched])
        out = bank.pay(watched, other, 3_00, "KGS", end_to_end_id="E2E-TYPE-OUT-2")
        events = narrow.wait_for(lambda ev: any(e["data"]["payment_id"] == out.id for e in ev))
        assert [e["type"] for e in events] == ["account.credited", "account.debited"]
    finally:
        narrow.close()


def test_a_batch_subscription_gets_the_due_events_in_one_delivery_and_retries_each_alone(
    bank: BankClient, sink: WebhookSink
) -> None:
    """As one camt.054 notification carries many entries: the credits booked together (a bulk
    of four) reach a `batch` subscriber in one signed POST, oldest first. A delivery the
    receiver refuses is retried event by event, so one event it keeps refusing would hold back
    no other; each event arrives once."""
    payer = _customer_with_account(bank, funds=100_00)
    watched = _customer_with_account(bank)
    narrow = WebhookSink(SECRET)
    try:
        bank.subscribe(narrow.url, [watched], events=["account.credited"], batch=True)
        keys = [f"batch-{uuid.uuid4().hex[:8]}-{i}" for i in range(4)]
        bank.pay_bulk([_bulk_item(payer, watched, 1_00 * (i + 1), key) for i, key in enumerate(keys)])
        events = narrow.wait_for(lambda ev: len(ev) == 4)
        assert narrow.deliveries == [("batch", 4)]
        assert [e["data"]["amount"] for e in events] == [1_00, 2_00, 3_00, 4_00]

        narrow.answer = 500  # the receiver is down: the first try of the next batch fails
        keys = [f"batch-{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]
        bank.pay_bulk([_bulk_item(payer, watched, 10_00 + i, key) for i, key in enumerate(keys)])
        wait_until(lambda: narrow.refused, 10, "the first try, refused")
        narrow.answer = 200
        events = narrow.wait_for(lambda ev: len(ev) == 7)
        assert narrow.deliveries[1:] == [("event", 1)] * 3
        assert sorted(e["data"]["amount"] for e in events[4:]) == [10_00, 10_01, 10_02]
        assert len({e["id"] for e in events}) == 7
    finally:
        narrow.close()


def test_a_structured_creditor_reference_travels_with_the_payment(
    bank: BankClient, sink: WebhookSink
) -> None:
    payer = _customer_with_account(bank, funds=100_00)
    payee = _customer_with_account(bank)
    wallet = "0x" + "ab" * 20  # 42 characters: longer than ISO 20022's 35, taken here
    payment = bank.pay(
        payer,
        payee,
        10_00,
        "KGS",
        end_to_end_id="E2E-REF-1",
        remittance_info="KGST",
        creditor_reference=wallet,
    )
    assert payment.creditor_reference == wallet
    assert bank.payment(payment.id).creditor_reference == wallet
    entry = bank.statement(payee).entries[-1]
    assert (entry.payment_id, entry.creditor_reference, entry.remittance_info) == (payment.id, wallet, "KGST")
    events = sink.wait_for(
        lambda ev: any(e["type"] == "account.credited" and e["data"]["payment_id"] == payment.id for e in ev)
    )
    credit = AccountNotification.model_validate(
        next(e for e in events if e["type"] == "account.credited" and e["data"]["payment_id"] == payment.id)[
            "data"
        ]
    )
    assert (credit.account, credit.creditor_reference) == (payee, wallet)

    plain = bank.pay(payer, payee, 1_00, "KGS", end_to_end_id="E2E-REF-2")
    assert plain.creditor_reference is None
    assert bank.statement(payee).entries[-1].creditor_reference is None
    for reference in ("", "x" * 141):
        with pytest.raises(ApiError) as e:
            bank.pay(payer, payee, 1_00, "KGS", end_to_end_id="E2E-REF-3", creditor_reference=reference)
        assert (e.value.status, e.value.field) == (422, "body.creditor_reference")
    assert bank.balance(payee) == 11_00


def test_kyc_tiers_limits_travel_rule_and_sanctions(bank: BankClient) -> None:
    rich = _customer_with_account(bank, tier="T2", funds=1_000_000_00)
    payee = _customer_with_account(bank)
    blocked = _customer_with_account(bank, tier="T0")
    t1 = _customer_with_account(bank, tier="T1")
    bank.pay(rich, t1, 200_000_00, "KGS", end_to_end_id="fund-t1", debtor_name="A", creditor_name="B")
    cases = [
        (lambda: bank.pay(blocked, payee, 1, "KGS", end_to_end_id="t0"), 403, "body.debtor.account"),
        (lambda: bank.pay(rich, blocked, 1, "KGS", end_to_end_id="t0b"), 403, "body.creditor.account"),
        # USD 1,000 = 87,400 KGS: T1 may not send more
        (
            lambda: bank.pay(
                t1, payee, 87_410_00, "KGS", end_to_end_id="t1", debtor_name="A", creditor_name="B"
            ),
            403,
            "body.amount",
        ),
        (
            lambda: bank.pay(rich, payee, 90_000_00, "KGS", end_to_end_id="tr", creditor_name="B"),
            422,
            "body.debtor.name",
        ),
        (
            lambda: bank.pay(rich, payee, 1_00, "KGS", end_to_end_id="s", creditor_name="Old Vector LLC"),
            403,
            "body.creditor.name",
        ),
        (lambda: bank.pay(payee, rich, 1_00, "KGS", end_to_end_id="nsf"), 422, "body.amount"),
        (lambda: bank.pay(rich, payee, 1_00, "USD", end_to_end_id="ccy"), 422, "body.currency"),
    ]
    for action, status, field in cases:
        with pytest.raises(ApiError) as e:
            action()
        assert (e.value.status, e.value.field) == (status, field), e.value
    bank.pay(
        t1, payee, 87_400_00, "KGS", end_to_end_id="t1-ok", debtor_name="A", creditor_name="B"
    )  # at the limit
    with pytest.raises(ApiError) as e:
        bank.create_customer("A7 LLC", "T3")
    assert (e.value.status, e.value.field) == (403, "body.name")


def test_money_must_be_integer_minor_units(service: ServiceHandle, bank: BankClient) -> None:
    account = _customer_with_account(bank)
    for amount, field in (
        (1.5, "body.amount"),
        ("100", "body.amount"),
        (0, "body.amount"),
        (-5, "body.amount"),
    ):
        reply = httpx.post(
            f"{service.url}/deposits",
            json={"account": account, "amount": amount, "currency": "KGS"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert reply.status_code == 422
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["field"] == field
    reply = httpx.post(
        f"{service.url}/deposits",
        json={"account": account, "amount": 1, "currency": "KGS", "colour": "blue"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert reply.status_code == 422 and reply.json()["field"] == "body.colour"


# ---- idempotency -------------------------------------------------------------------------------------


def test_same_key_same_body_replays_one_payment(bank: BankClient) -> None:
    payer = _customer_with_account(bank, funds=1_000_00)
    payee = _customer_with_account(bank)
    first = bank.pay(payer, payee, 100_00, "KGS", end_to_end_id="idem-1", key="pay-once")
    again = bank.pay(payer, payee, 100_00, "KGS", end_to_end_id="idem-1", key="pay-once")
    assert again == first
    assert bank.balance(payer) == 900_00
    with pytest.raises(ApiError) as e:
        bank.pay(payer, payee, 200_00, "KGS", end_to_end_id="idem-1", key="pay-once")
    assert (e.value.status, e.value.field) == (422, "header.Idempotency-Key")
    assert bank.balance(payer) == 900_00


def _bulk_item(payer: str, payee: str, amount: int, key: str) -> BulkPayment:
    return BulkPayment(
        idempotency_key=key,
        end_to_end_id=f"BULK-{key}"[:35],
        debtor=Party(account=payer),
        creditor=Party(account=payee),
        amount=amount,
        currency=Currency.KGS,
    )


def test_a_bulk_settles_each_transfer_on_its_own(bank: BankClient, sink: WebhookSink) -> None:
    """pain.001 with three transfers, the second one over the balance left: the first and third
    settle (each notified), the second is refused naming its own field, in the order sent."""
    payer = _customer_with_account(bank, funds=1_000_00)
    payees = [_customer_with_account(bank) for _ in range(3)]
    tag = uuid.uuid4().hex[:8]
    report = bank.pay_bulk(
        [
            _bulk_item(payer, payees[0], 600_00, f"{tag}-0"),
            _bulk_item(payer, payees[1], 500_00, f"{tag}-1"),
            _bulk_item(payer, payees[2], 400_00, f"{tag}-2"),
        ]
    )
    assert [(r.idempotency_key, r.status, r.replayed) for r in report.results] == [
        (f"{tag}-0", 201, False),
        (f"{tag}-1", 422, False),
        (f"{tag}-2", 201, False),
    ]
    refused = report.results[1].problem
    assert refused is not None and refused["field"] == "body.payments[1].amount"
    assert [bank.balance(p) for p in payees] == [600_00, 0, 400_00]
    assert bank.balance(payer) == 0
    settled = {r.payment.id for r in report.results if r.payment is not None}

    def credited(events: list[dict[str, Any]]) -> set[str]:
        return {e["data"]["payment_id"] for e in events if e["type"] == "account.credited"}

    sink.wait_for(lambda ev: settled <= credited(ev))


def test_a_transfer_is_paid_once_whether_sent_alone_or_in_bulks(bank: BankClient) -> None:
    """The same key is the same payment: sent alone, then in a bulk, then in another bulk with a
    new transfer, it is paid once; the same key with another amount is refused, naming it."""
    payer = _customer_with_account(bank, funds=1_000_00)
    payee = _customer_with_account(bank)
    key = f"payout-{uuid.uuid4().hex[:8]}"
    alone = bank.pay(payer, payee, 100_00, "KGS", end_to_end_id=f"BULK-{key}"[:35], key=key)
    first = bank.pay_bulk([_bulk_item(payer, payee, 100_00, key)])
    second = bank.pay_bulk(
        [_bulk_item(payer, payee, 50_00, f"{key}-b"), _bulk_item(payer, payee, 100_00, key)]
    )
    assert first.results[0].replayed and first.results[0].payment == alone
    assert second.results[1].replayed and second.results[1].payment == alone
    assert (second.results[0].status, second.results[0].replayed) == (201, False)
    assert bank.balance(payee) == 150_00
    reused = bank.pay_bulk([_bulk_item(payer, payee, 50_00, f"{key}-b"), _bulk_item(payer, payee, 7_00, key)])
    assert reused.results[0].replayed
    problem = reused.results[1].problem
    assert reused.results[1].status == 422 and problem is not None
    assert problem["field"] == "body.payments[1].idempotency_key"
    assert bank.balance(payee) == 150_00


def test_a_bulk_is_1_to_100_transfers(bank: BankClient) -> None:
    payer = _customer_with_account(bank, funds=1_000_00)
    payee = _customer_with_account(bank)
    too_many = [_bulk_item(payer, payee, 1, f"many-{i}").model_dump(mode="json") for i in range(101)]
    for payments in ([], too_many):
        with pytest.raises(ApiError) as e:
            bank.post("/payments/bulk", {"payments": payments})
        assert (e.value.status, e.value.field) == (422, "body.payments")
    assert bank.balance(payee) == 0


def test_a_refusal_is_stored_too(bank: BankClient) -> None:
    payer = _customer_with_account(bank)
    payee = _customer_with_account(bank)
    with pytest.raises(ApiError) as first:
        bank.pay(payer, payee, 100_00, "KGS", end_to_end_id="nsf-1", key="nsf-key")
    bank.deposit(payer, 1_000_00, "KGS")
    with pytest.raises(ApiError) as again:  # same key: the stored answer, not a new attempt
        bank.pay(payer, payee, 100_00, "KGS", end_to_end_id="nsf-1", key="nsf-key")
    assert again.value.problem == first.value.problem
    assert bank.balance(payee) == 0


def test_write_without_idempotency_key_is_refused(service: ServiceHandle) -> None:
    reply = httpx.post(f"{service.url}/customers", json={"name": "X", "kyc_tier": "T1"})
    assert reply.status_code == 422
    assert reply.json()["field"] == "header.Idempotency-Key"


# ---- webhooks ----------------------------------------------------------------------------------------


def test_webhook_signatures_are_checked_for_tampering_and_age() -> None:
    body = b'{"id":"evt_1"}'
    verify(SECRET, sign(SECRET, body), body)
    for header, why in (
        (sign(SECRET, body), "tampered"),
        (sign("whsec_other_secret", body), "wrong secret"),
        (sign(SECRET, body, timestamp=int(time.time()) - 301), "stale"),
        (None, "missing"),
        ("v1=abc", "malformed"),
    ):
        payload = b'{"id":"evt_2"}' if why == "tampered" else body
        with pytest.raises(Problem) as e:
            verify(SECRET, header, payload)
        assert e.value.status == 401, why


def test_webhooks_survive_loss_and_duplication(bank: BankClient, sink: WebhookSink) -> None:
    bank.set_faults(webhook_drop_bps=5_000, webhook_duplicate_bps=5_000, seed=7)
    try:
        accounts = [_customer_with_account(bank, funds=1_00) for _ in range(10)]
        events = sink.wait_for(
            lambda ev: {e["data"]["account"] for e in ev if e["type"] == "account.credited"} >= set(accounts),
            timeout=30,
        )
    finally:
        bank.clear_faults()
    ids = [e["id"] for e in events if e["type"] == "account.credited" and e["data"]["account"] in accounts]
    assert len(set(ids)) == 10  # every notification arrived (some more than once: receivers dedup by id)


def test_injected_5xx_are_retried_safely_with_the_same_key(service: ServiceHandle, bank: BankClient) -> None:
    payer = _customer_with_account(bank, funds=10_000_00)
    payee = _customer_with_account(bank)
    bank.set_faults(error_rate_bps=5_000, seed=3)
    try:
        for i in range(10):
            bank.pay(payer, payee, 1_00, "KGS", end_to_end_id=f"flaky-{i}")
        unlucky = httpx.get(f"{service.url}/accounts/{payee}")
        for _ in range(20):
            if unlucky.status_code == 503:
                break
            unlucky = httpx.get(f"{service.url}/accounts/{payee}")
        assert unlucky.status_code == 503 and unlucky.json()["title"] == "Injected fault"
    finally:
        bank.clear_faults()
    assert bank.balance(payee) == 10_00  # ten payments, none lost, none doubled


def test_admin_endpoints_need_the_token(service: ServiceHandle) -> None:
    reply = httpx.put(f"{service.url}/admin/faults", json={"error_rate_bps": 10_000})
    assert reply.status_code == 401 and reply.json()["field"] == "header.Authorization"


def test_openapi_schema_lists_the_api(service: ServiceHandle) -> None:
    paths = httpx.get(f"{service.url}/openapi.json").json()["paths"]
    assert {"/customers", "/accounts", "/deposits", "/payments", "/accounts/{number}/statement"} <= set(paths)


# ---- crash safety --------------------------------------------------------------------------------------


def test_sigkill_and_restart_loses_nothing_acknowledged(tmp_path: Path) -> None:
    sink = WebhookSink(SECRET)
    sink.answer = 500  # receiver down: notifications queue up in the outbox
    service = start_service("bank", tmp_path, settings={"webhook_subscribers": [sink.url]})
    bank = BankClient(service.url)
    try:
        account = _customer_with_account(bank)
        acknowledged = [bank.deposit(account, 1_00 * (i + 1), "KGS", key=f"dep-{i}") for i in range(20)]
    finally:
        service.kill()
    restarted = start_service(
        "bank",
        tmp_path,
        port=int(service.url.rsplit(":", 1)[1]),
        settings={"webhook_subscribers": [sink.url]},
    )
    try:
        assert bank.balance(account) == sum(100 * (i + 1) for i in range(20))
        for i, payment in enumerate(acknowledged):  # replays, not new deposits
            assert bank.deposit(account, 1_00 * (i + 1), "KGS", key=f"dep-{i}") == payment
        assert bank.balance(account) == sum(100 * (i + 1) for i in range(20))
        sink.answer = 200  # receiver back: every queued notification is delivered
        sink.wait_for(
            lambda ev: len({e["id"] for e in ev if e["data"].get("account") == account}) == 20, timeout=30
        )
    finally:
        restarted.stop()
        sink.close()
