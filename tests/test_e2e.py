"""End to end on the session's whole world (node, contracts, bank, custodian, issuer, exchange):
remittance cycles for both tokens and both routes, many customers at once. The plugin
reconciles this world when the run ends: any money out of place fails the run."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devnet.core.chain import Reverted
from devnet.core.http import ApiError
from devnet.core.wallets import Wallet, WalletPool
from devnet.services.bank.client import BankClient
from harness.connect import Devnet
from harness.flows import kgst_exchange_cycle, kgst_remittance_cycle, poll, usdkg_cycle

USD_200_IN_TYIYN = 17_480_00


@pytest.fixture(scope="session")
def next_wallet(world_lane: WalletPool) -> Callable[[], Wallet]:
    wallets: Iterator[Wallet] = iter(world_lane)
    lock = threading.Lock()

    def take() -> Wallet:
        with lock:
            return next(wallets)

    return take


def _account(bank: BankClient, tier: str = "T2", currency: str = "KGS", funds: int = 0) -> str:
    customer = bank.create_customer(f"Customer {uuid.uuid4().hex[:6]}", tier)
    number = bank.open_account(customer.id, currency).number
    if funds:
        bank.deposit(number, funds, currency)
    return number


def test_many_migrants_send_home_at_once(
    devnet: Devnet, bank: BankClient, next_wallet: Callable[[], Wallet]
) -> None:
    def one(_: int) -> list[str]:
        family_account = _account(bank, tier="T1")
        trace = kgst_remittance_cycle(
            devnet,
            migrant_account=_account(bank, funds=USD_200_IN_TYIYN),
            migrant=next_wallet(),
            family=next_wallet(),
            family_account=family_account,
            tyiyn=USD_200_IN_TYIYN,
        )
        assert bank.balance(family_account) == USD_200_IN_TYIYN
        return [s.name for s in trace.steps]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(12)))
    assert results[0] == [
        "bank credit",
        "mint included",
        "mint final",
        "transfer included",
        "redeem included",
        "payout settled",
    ]
    assert len(results) == 12


def test_remittance_through_the_exchange(
    devnet: Devnet, bank: BankClient, next_wallet: Callable[[], Wallet]
) -> None:
    family_account = _account(bank, tier="T1")
    trace = kgst_exchange_cycle(
        devnet,
        migrant_account=_account(bank, funds=USD_200_IN_TYIYN),
        migrant=next_wallet(),
        family=next_wallet(),
        family_account=family_account,
        tyiyn=USD_200_IN_TYIYN,
    )
    assert [s.name for s in trace.steps] == [
        "bank credit",
        "mint included",
        "mint final",
        "deposit included",
        "deposit credited",
        "deposit unlocked",
        "swept to hot wallet",
        "internal transfer",
        "withdrawal completed",
        "redeem included",
        "payout settled",
    ]
    fee = devnet.exchange.network("KGST").withdraw_fee // 10**16
    assert bank.balance(family_account) == USD_200_IN_TYIYN - fee


def test_usdkg_for_an_institution_against_vaulted_gold(
    devnet: Devnet, bank: BankClient, next_wallet: Callable[[], Wallet]
) -> None:
    for serial in itertools.islice((f"E2E-{uuid.uuid4().hex[:8]}" for _ in itertools.count()), 3):
        devnet.custodian.deposit_bar(serial, "Kyrgyzaltyn", 2025, 400_000, 9_999, pool="USDKG")
    # The issuer reports the new attestation on chain asynchronously: wait until gold covers the mint.
    needed = devnet.usdkg.total_supply() + 50_000_00 * 10**4

    def covered() -> bool:
        try:
            return devnet.usdkg.max_supply() >= needed
        except Reverted:  # no gold report yet
            return False

    poll(covered, 30, "gold reported on chain")
    supplier = _account(bank, tier="T2", currency="USD")
    trace = usdkg_cycle(
        devnet,
        buyer_account=_account(bank, tier="T3", currency="USD", funds=100_000_00),
        buyer=next_wallet(),
        payee=next_wallet(),
        payee_account=supplier,
        cents=50_000_00,
    )
    assert trace.step("payout settled").bank_ref
    assert bank.balance(supplier) == 50_000_00


def test_unidentified_customers_cannot_buy_tokens(
    devnet: Devnet, bank: BankClient, next_wallet: Callable[[], Wallet]
) -> None:
    t0 = _account(bank, tier="T0")
    with pytest.raises(ApiError) as e:
        bank.pay(
            t0,
            bank.reserve_accounts()["KGST"],
            1_00,
            "KGS",
            end_to_end_id="t0-buy",
            remittance_info=f"KGST to {next_wallet().address}",
        )
    assert (e.value.status, e.value.field) == (403, "body.debtor.account")
