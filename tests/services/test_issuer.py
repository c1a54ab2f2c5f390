"""The reference issuer with a real bank and a real geth node: money stays whole."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from devnet.core.accounts import ROLE_LAYOUT, derive_account
from devnet.core.http import ApiError
from devnet.core.wallets import Wallet
from devnet.profile import Engine
from devnet.services.bank.api import PaymentOut
from devnet.services.bank.client import BankClient
from devnet.services.issuer.api import MINT_SETTLED, REDEMPTION_SETTLED, MintOut, MintStatus, RedemptionStatus
from devnet.services.issuer.client import IssuerClient
from tests.services.worldkit import World, customer_account, wait_until

# One module, one world: xdist keeps these tests on one worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("issuer-world")

KGS = 10**16  # token base units per tyiyn (18 - 2 decimals)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_engine: Engine) -> Iterator[World]:
    w = World.start(tmp_path_factory.mktemp("issuer-world"), world_engine)
    w.start_service("bank")
    w.start_issuer(report_interval_s=0.3)
    yield w
    w.stop()


@pytest.fixture
def bank(world: World) -> BankClient:
    return BankClient(world.services["bank"].url)


@pytest.fixture
def issuer(world: World) -> IssuerClient:
    return IssuerClient(world.services["issuer"].url)


def _buy(bank: BankClient, reserve: str, wallet: str, tyiyn: int, payer: str | None = None) -> PaymentOut:
    payer = payer or customer_account(bank, funds=tyiyn)
    return bank.pay(
        payer, reserve, tyiyn, "KGS", end_to_end_id=uuid.uuid4().hex[:20], remittance_info=f"KGST to {wallet}"
    )


def _settled_mint(issuer: IssuerClient, payment_id: str) -> MintOut:
    return wait_until(
        lambda: (
            (m := issuer.mint_by_payment(payment_id)).status in (MintStatus.MINTED, MintStatus.FAILED) and m
        ),
        what=f"mint for {payment_id}",
    )


def test_a_bank_credit_mints_that_amount_to_the_named_wallet(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    wallet = world.wallet()
    payment = _buy(bank, bank.reserve_accounts()["KGST"], wallet.address, 17_480_00)
    mint = _settled_mint(issuer, payment.id)
    assert mint.status == MintStatus.MINTED and mint.wallet == wallet.address
    assert kgst.balance_of(wallet) == 17_480_00 * KGS
    assert mint.amount == 17_480_00 * KGS and mint.fiat_amount == 17_480_00


def test_a_credit_without_a_wallet_is_held_not_lost(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    payer = customer_account(bank, funds=500_00)
    payment = bank.pay(
        payer,
        bank.reserve_accounts()["KGST"],
        500_00,
        "KGS",
        end_to_end_id="no-wallet",
        remittance_info="for tokens",
    )
    held = wait_until(lambda: (m := issuer.mint_by_payment(payment.id)).status == MintStatus.HELD and m)
    assert "no wallet address" in held.reason
    assert any(m.bank_payment_id == payment.id for m in issuer.mints(status=MintStatus.HELD))


def test_many_parallel_credits_mint_once_each_across_minter_keys(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    reserve = bank.reserve_accounts()["KGST"]
    wallets = [world.wallet() for _ in range(24)]
    payers = [customer_account(bank, funds=2_000_00) for _ in wallets]
    with ThreadPoolExecutor(8) as pool:
        payments = list(
            pool.map(
                lambda i: _buy(bank, reserve, wallets[i].address, 1_000_00 + i, payers[i]),
                range(len(wallets)),
            )
        )
    mints = [_settled_mint(issuer, p.id) for p in payments]
    assert all(m.status == MintStatus.MINTED for m in mints)
    for i, w in enumerate(wallets):
        assert kgst.balance_of(w) == (1_000_00 + i) * KGS
    minters = {world.chain.rpc.call("eth_getTransactionByHash", m.tx_hash)["from"] for m in mints}
    assert len(minters) > 1  # mints do not queue behind one key's nonce


def test_duplicated_and_lost_bank_webhooks_still_mint_exactly_once(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    reserve = bank.reserve_accounts()["KGST"]
    bank.set_faults(webhook_duplicate_bps=10_000)
    try:
        wallet = world.wallet()
        payment = _buy(bank, reserve, wallet.address, 300_00)
        assert _settled_mint(issuer, payment.id).status == MintStatus.MINTED
    finally:
        bank.clear_faults()
    bank.set_faults(webhook_drop_bps=10_000)  # every notification lost: the statement poll finds it
    try:
        lost = world.wallet()
        payment = _buy(bank, reserve, lost.address, 400_00)
        assert _settled_mint(issuer, payment.id).status == MintStatus.MINTED
    finally:
        bank.clear_faults()
    assert kgst.balance_of(wallet) == 300_00 * KGS
    assert kgst.balance_of(lost) == 400_00 * KGS


def test_redemption_is_paid_once_to_the_referenced_account(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    holder = world.wallet()
    _settled_mint(issuer, _buy(bank, bank.reserve_accounts()["KGST"], holder.address, 2_000_00).id)
    family = customer_account(bank, tier="T1")
    result = kgst.redeem(holder, 1_500_00 * KGS + 123, family)  # a sub-tyiyn remainder is not paid
    event = kgst.events(result, "Redeemed")[0]
    paid = wait_until(
        lambda: next(
            (
                r
                for r in issuer.redemptions()
                if r.tx_hash == result.tx_hash and r.status != RedemptionStatus.PENDING
            ),
            None,
        )
    )
    assert paid.status == RedemptionStatus.PAID and paid.payout_amount == 1_500_00
    assert paid.redemption_id == event["redemptionId"]
    assert bank.balance(family) == 1_500_00
    payment = bank.payment(paid.bank_payment_id)
    assert payment.debtor_account == bank.reserve_accounts()["KGST"]


def test_redemption_to_a_bad_reference_is_reported_not_paid(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    holder = world.wallet()
    _settled_mint(issuer, _buy(bank, bank.reserve_accounts()["KGST"], holder.address, 100_00).id)
    result = kgst.redeem(holder, 100_00 * KGS, "1234567890123456")
    failed = wait_until(
        lambda: next(
            (r for r in issuer.redemptions(status=RedemptionStatus.FAILED) if r.tx_hash == result.tx_hash),
            None,
        )
    )
    assert "check digits" in failed.reason


def test_reserve_report_follows_the_bank_reserve(world: World, bank: BankClient) -> None:
    kgst = world.token("KGST")
    reserve = bank.reserve_accounts()["KGST"]
    _buy(bank, reserve, world.wallet().address, 50_00)
    wait_until(
        lambda: kgst.feeds["reserve"].functions.latestRoundData().call()[1] == bank.balance(reserve),
        what="feed = bank reserve",
    )
    assert kgst.max_supply() >= kgst.total_supply()


def test_issuer_killed_mid_mint_neither_loses_nor_doubles(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    reserve = bank.reserve_accounts()["KGST"]
    wallets = [world.wallet() for _ in range(12)]
    payers = [customer_account(bank, funds=100_00) for _ in wallets]
    payments = [_buy(bank, reserve, w.address, 100_00, p) for w, p in zip(wallets, payers, strict=True)]
    world.restart("issuer", kill=True)
    restarted = IssuerClient(world.services["issuer"].url)
    mints = [_settled_mint(restarted, p.id) for p in payments]
    assert [m.status for m in mints] == [MintStatus.MINTED] * len(mints)
    for w in wallets:
        assert kgst.balance_of(w) == 100_00 * KGS


def test_mints_wait_while_the_token_is_paused_and_complete_after(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    pauser = Wallet.of(derive_account(world.env.mnemonic, ROLE_LAYOUT.pauser))
    kgst.pause(pauser)
    try:
        wallet = world.wallet()
        payment = _buy(bank, bank.reserve_accounts()["KGST"], wallet.address, 250_00)
        waiting = wait_until(
            lambda: (m := issuer.mint_by_payment(payment.id)).reason and "paused" in m.reason and m
        )
        assert waiting.status == MintStatus.QUEUED  # waiting, not failed
    finally:
        kgst.unpause(pauser)
    assert _settled_mint(issuer, payment.id).status == MintStatus.MINTED
    assert kgst.balance_of(wallet) == 250_00 * KGS


def test_a_credit_for_a_blacklisted_wallet_is_held_with_the_reason(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    sanctioned = world.wallet()  # e.g. the A7A5 issuer's address
    kgst.blacklist(Wallet.of(derive_account(world.env.mnemonic, ROLE_LAYOUT.blacklister)), sanctioned)
    payment = _buy(bank, bank.reserve_accounts()["KGST"], sanctioned.address, 100_00)
    held = wait_until(lambda: (m := issuer.mint_by_payment(payment.id)).status == MintStatus.HELD and m)
    assert "blacklisted" in held.reason
    assert kgst.balance_of(sanctioned) == 0


def test_an_issuer_started_while_the_bank_is_down_comes_up_and_mints_once_the_bank_is_back(
    world: World, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    world.services["bank"].kill()
    world.restart("issuer", kill=True)  # up without its bank: it subscribes later
    restarted = IssuerClient(world.services["issuer"].url)
    assert restarted.get("/health")["status"] == "ok"
    world.restart("bank", kill=False)
    bank = BankClient(world.services["bank"].url)
    wallet = world.wallet()
    payment = _buy(bank, bank.reserve_accounts()["KGST"], wallet.address, 150_00)
    assert _settled_mint(restarted, payment.id).status == MintStatus.MINTED
    assert kgst.balance_of(wallet) == 150_00 * KGS


def test_the_wallet_comes_from_the_structured_creditor_reference(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    """ISO 20022's structured reference (RmtInf/Strd/CdtrRefInf/Ref) names the wallet; the free
    text is only a fallback, so a wallet quoted in it does not take over."""
    kgst = world.token("KGST")
    wallet, decoy = world.wallet(), world.wallet()
    payer = customer_account(bank, funds=320_00)
    payment = bank.pay(
        payer,
        bank.reserve_accounts()["KGST"],
        320_00,
        "KGS",
        end_to_end_id=uuid.uuid4().hex[:20],
        remittance_info=f"gift, not for {decoy.address}",
        creditor_reference=wallet.address,
    )
    mint = _settled_mint(issuer, payment.id)
    assert mint.status == MintStatus.MINTED and mint.wallet == wallet.address
    assert kgst.balance_of(wallet) == 320_00 * KGS and kgst.balance_of(decoy) == 0


def test_a_structured_reference_that_is_no_wallet_is_held_with_the_reason(
    bank: BankClient, issuer: IssuerClient
) -> None:
    payer = customer_account(bank, funds=80_00)
    payment = bank.pay(
        payer,
        bank.reserve_accounts()["KGST"],
        80_00,
        "KGS",
        end_to_end_id=uuid.uuid4().hex[:20],
        remittance_info="tokens",
        creditor_reference="RF18539007547034",
    )
    held = wait_until(lambda: (m := issuer.mint_by_payment(payment.id)).status == MintStatus.HELD and m)
    assert held.reason is not None and "creditor reference" in held.reason


# ---- long polls: ?wait=<seconds> answers once the outcome is there --------------------------

#: A wait no long poll here runs out unless nothing can happen: answering before it is the point.
LONG_WAIT_S = 30.0


@contextmanager
def issuer_told_only_by_webhooks(world: World) -> Iterator[IssuerClient]:
    """The issuer restarted so that it learns of bank credits from the bank's webhooks alone: its
    statement sync (the safety net for lost webhooks) runs at start, then not for a minute.
    Restarted as it was afterwards."""
    usual = world.settings["issuer"]
    world.settings["issuer"] = {**usual, "report_interval_s": 60}
    world.restart("issuer", kill=False)
    try:
        yield IssuerClient(world.services["issuer"].url)
    finally:
        world.settings["issuer"] = usual
        world.restart("issuer", kill=False)


def test_a_long_poll_made_before_the_credit_reached_the_issuer_answers_with_the_mint_once_minted(
    world: World, bank: BankClient
) -> None:
    kgst = world.token("KGST")
    wallet = world.wallet()
    with issuer_told_only_by_webhooks(world) as issuer:
        bank.set_faults(webhook_drop_bps=10_000)  # the credit notice is held back (and retried)
        try:
            payment = _buy(bank, bank.reserve_accounts()["KGST"], wallet.address, 90_00)
            with pytest.raises(ApiError) as unknown:
                issuer.mint_by_payment(payment.id)
            assert unknown.value.status == 404  # the issuer has no such credit yet
            with ThreadPoolExecutor(1) as pool:
                deadline = time.monotonic() + LONG_WAIT_S
                waiting = pool.submit(issuer.mint_by_payment, payment.id, wait=LONG_WAIT_S)
                time.sleep(0.5)  # the request is in before the notice can be (not asserted)
                bank.clear_faults()  # the bank's next try delivers the credit notice
                mint = waiting.result()
                answered = time.monotonic()
        finally:
            bank.clear_faults()
    assert mint.status == MintStatus.MINTED and mint.wallet == wallet.address
    assert answered < deadline  # answered at the outcome, not at the end of its wait
    assert kgst.balance_of(wallet) == 90_00 * KGS


def test_a_long_poll_answers_a_credit_held_on_arrival_at_once(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    payer = customer_account(bank, funds=60_00)
    payment = bank.pay(
        payer, bank.reserve_accounts()["KGST"], 60_00, "KGS", end_to_end_id="no-wallet", remittance_info="x"
    )
    deadline = time.monotonic() + LONG_WAIT_S
    held = issuer.mint_by_payment(payment.id, wait=LONG_WAIT_S)
    assert held.status == MintStatus.HELD and held.status in MINT_SETTLED
    assert time.monotonic() < deadline


def test_a_long_poll_whose_wait_ends_answers_the_current_state_or_the_same_404(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    started = time.monotonic()
    with pytest.raises(ApiError) as missing:
        issuer.mint_by_payment(f"pmt_none_{uuid.uuid4().hex[:8]}", wait=0.5)
    assert time.monotonic() - started >= 0.5  # nothing could happen: it waited the wait out
    assert missing.value.status == 404 and missing.value.field == "path.payment_id"
    assert issuer.redemptions_by_tx("0x" + "ab" * 32, wait=0.5) == []
    kgst = world.token("KGST")
    pauser = Wallet.of(derive_account(world.env.mnemonic, ROLE_LAYOUT.pauser))
    kgst.pause(pauser)  # the mint waits, queued, for as long as the token is paused
    try:
        payment = _buy(bank, bank.reserve_accounts()["KGST"], world.wallet().address, 70_00)
        wait_until(lambda: issuer.mint_by_payment(payment.id), what="the mint queued")
        queued = issuer.mint_by_payment(payment.id, wait=0.5)
        assert queued.status == MintStatus.QUEUED and queued.bank_payment_id == payment.id
    finally:
        kgst.unpause(pauser)
    assert issuer.mint_by_payment(payment.id, wait=LONG_WAIT_S).status == MintStatus.MINTED


def test_a_long_poll_on_a_redemption_answers_once_it_is_paid(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    holder = world.wallet()
    _settled_mint(issuer, _buy(bank, bank.reserve_accounts()["KGST"], holder.address, 40_00).id)
    family = customer_account(bank, tier="T1")
    result = kgst.redeem(holder, 40_00 * KGS, family)
    deadline = time.monotonic() + LONG_WAIT_S
    (redemption,) = issuer.redemptions_by_tx(result.tx_hash, wait=LONG_WAIT_S)
    assert time.monotonic() < deadline
    assert redemption.status == RedemptionStatus.PAID and redemption.status in REDEMPTION_SETTLED
    assert bank.balance(family) == 40_00


@pytest.mark.parametrize("wait", ["-1", "30.5", "31", "soon"])
@pytest.mark.parametrize("path", ["/mints/by-payment/pmt_x", "/redemptions/by-tx/0xab"])
def test_a_wait_out_of_range_is_a_422_naming_query_wait(issuer: IssuerClient, path: str, wait: str) -> None:
    reply = httpx.get(f"{issuer.base_url}{path}", params={"wait": wait})
    assert reply.status_code == 422 and reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["field"] == "query.wait"


def test_a_stopping_issuer_answers_its_long_polls_at_once_instead_of_waiting_them_out(world: World) -> None:
    """SIGTERM: uvicorn waits for the requests in flight before it exits, and a stop that takes
    too long ends in a SIGKILL (here after 15 s), cutting the long poll off."""
    url = world.services["issuer"].url
    unknown = f"pmt_none_{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(1) as pool:
        deadline = time.monotonic() + LONG_WAIT_S
        waiting = pool.submit(
            httpx.get, f"{url}/mints/by-payment/{unknown}", params={"wait": LONG_WAIT_S}, timeout=60
        )
        time.sleep(0.5)  # the request is in (not asserted)
        world.restart("issuer", kill=False)  # SIGTERM, then the same issuer again
        reply = waiting.result()
    assert reply.status_code == 404  # answered, the state then; not a connection cut by a SIGKILL
    assert time.monotonic() < deadline
