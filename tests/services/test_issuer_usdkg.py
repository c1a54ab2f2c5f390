"""USDKG through the issuer: minted only while attested gold x XAU/USD covers the floor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from eth_account import Account

from devnet.core.attestation import DEFAULT_SIGNING_KEY
from devnet.core.http import ApiError
from devnet.profile import Engine
from devnet.services.bank.client import BankClient
from devnet.services.custodian.api import ConstantPath
from devnet.services.custodian.client import CustodianClient
from devnet.services.issuer.api import MintRequestAccepted, MintRequestStatus
from devnet.services.issuer.client import IssuerClient
from tests.services.worldkit import World, customer_account, wait_until

pytestmark = pytest.mark.xdist_group("usdkg-world")

USD = 10**4  # USDKG base units per cent (6 - 2 decimals)
BAR_FINE_MILLI = 399_960  # 400.000 oz gross at 999.9


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_engine: Engine) -> Iterator[World]:
    w = World.start(tmp_path_factory.mktemp("usdkg-world"), world_engine)
    w.start_service("bank")
    w.start_service("custodian", price_tick_interval_s=0)
    w.start_issuer(custodian_signer=Account.from_key(DEFAULT_SIGNING_KEY).address, report_interval_s=0.3)
    yield w
    w.stop()


@pytest.fixture(scope="module")
def vault(world: World) -> CustodianClient:
    return CustodianClient(world.services["custodian"].url)


@pytest.fixture(scope="module")
def bank(world: World) -> BankClient:
    return BankClient(world.services["bank"].url)


@pytest.fixture(scope="module")
def issuer(world: World) -> IssuerClient:
    return IssuerClient(world.services["issuer"].url)


@pytest.fixture(scope="module")
def institution(bank: BankClient) -> str:
    return customer_account(
        bank, tier="T3", currency="USD", funds=10_000_000_00, name="Kyrgyz Investment Fund"
    )


def _add_bars(vault: CustodianClient, n: int) -> None:
    for _ in range(n):
        vault.deposit_bar(f"KG-{uuid.uuid4().hex[:8]}", "Kyrgyzaltyn", 2025, 400_000, 9_999, pool="USDKG")


def _with_gold(world: World, vault: CustodianClient, bars: int, price_usd: int) -> None:
    """Vault `bars` more bars at a constant price and wait until the issuer reported both."""
    _add_bars(vault, bars)
    vault.set_price_path(ConstantPath(price_e8=price_usd * 10**8))
    total = vault.weight_list(pool="USDKG").totals.fine_oz_milli
    _gold_reported(world, total, price_usd * 10**8)


def _gold_reported(world: World, fine_milli: int, price_e8: int) -> None:
    usdkg = world.token("USDKG")
    wait_until(
        lambda: (
            usdkg.feeds["ounces"].functions.latestRoundData().call()[1] == fine_milli
            and usdkg.feeds["price"].functions.latestRoundData().call()[1] == price_e8
        ),
        what="gold reported on chain",
    )


def _request(issuer: IssuerClient, account: str, wallet: str, cents: int) -> MintRequestAccepted:
    return issuer.request_usdkg_mint(account, wallet, cents)


def test_usdkg_mints_within_gold_and_halts_after_a_price_shock(
    world: World, vault: CustodianClient, bank: BankClient, issuer: IssuerClient, institution: str
) -> None:
    usdkg = world.token("USDKG")
    _add_bars(vault, 3)  # 1,199.88 fine oz
    vault.set_price_path(ConstantPath(price_e8=2_650 * 10**8))  # ~USD 3.18M of collateral
    _gold_reported(world, 3 * BAR_FINE_MILLI, 2_650 * 10**8)

    wallet = world.wallet()
    accepted = _request(issuer, institution, wallet.address, 1_000_000_00)
    assert accepted.status == MintRequestStatus.ACCEPTED
    wait_until(lambda: usdkg.balance_of(wallet) == 1_000_000_00 * USD, what="USDKG minted")
    assert bank.balance(bank.reserve_accounts()["USDKG"]) == 1_000_000_00  # the USD came in

    with pytest.raises(ApiError) as over:
        _request(issuer, institution, wallet.address, 2_500_000_00)
    assert (over.value.status, over.value.field) == (409, "body.amount_cents")

    # Gold falls to USD 800: 1,199.88 oz cover ~USD 960k < 1M in circulation. Minting halts.
    vault.set_price_path(ConstantPath(price_e8=800 * 10**8))
    _gold_reported(world, 3 * BAR_FINE_MILLI, 800 * 10**8)
    with pytest.raises(ApiError) as halted:
        _request(issuer, institution, wallet.address, 1_00)
    assert halted.value.status == 409 and "floor" in halted.value.title

    # Two more bars vaulted: 1,999.8 oz x USD 800 = ~USD 1.6M. Minting resumes.
    _add_bars(vault, 2)
    _gold_reported(world, 5 * BAR_FINE_MILLI, 800 * 10**8)
    _request(issuer, institution, wallet.address, 100_000_00)
    wait_until(lambda: usdkg.balance_of(wallet) == 1_100_000_00 * USD, what="minting resumed")


def test_only_institutional_usd_accounts_mint_usdkg(
    world: World, bank: BankClient, issuer: IssuerClient
) -> None:
    retail = customer_account(bank, tier="T2", currency="USD", funds=1_000_00)
    with pytest.raises(ApiError) as e:
        _request(issuer, retail, world.wallet().address, 1_00)
    assert (e.value.status, e.value.field) == (403, "body.customer_account")
    with pytest.raises(ApiError) as bad:
        issuer.post(
            "/usdkg/mint-requests", {"customer_account": retail, "wallet": "0x1234", "amount_cents": 1}
        )
    assert (bad.value.status, bad.value.field) == (422, "body.wallet")


def test_a_retried_request_pays_and_mints_once(
    world: World, vault: CustodianClient, bank: BankClient, issuer: IssuerClient, institution: str
) -> None:
    usdkg = world.token("USDKG")
    _with_gold(world, vault, bars=3, price_usd=2_650)  # whatever other tests left: enough for this one
    wallet = world.wallet()
    before = bank.balance(institution)
    first = issuer.request_usdkg_mint(institution, wallet.address, 5_000_00, key="fund-order-77")
    again = issuer.request_usdkg_mint(institution, wallet.address, 5_000_00, key="fund-order-77")
    assert again == first
    wait_until(lambda: usdkg.balance_of(wallet) == 5_000_00 * USD, what="minted")
    assert bank.balance(institution) == before - 5_000_00


def test_usdkg_cycle_buy_pay_cash_out(world: World, vault: CustodianClient, bank: BankClient) -> None:
    from harness.connect import Devnet
    from harness.flows import usdkg_cycle

    _with_gold(world, vault, bars=2, price_usd=2_650)
    env = world.env.model_copy(update={"services": {n: h.url for n, h in world.services.items()}})
    devnet = Devnet(env)
    buyer = customer_account(bank, tier="T3", currency="USD", funds=50_000_00)
    supplier_account = customer_account(bank, tier="T2", currency="USD")
    trace = usdkg_cycle(
        devnet,
        buyer_account=buyer,
        buyer=world.wallet(),
        payee=world.wallet(),
        payee_account=supplier_account,
        cents=20_000_00,
    )
    assert [s.name for s in trace.steps] == [
        "mint request accepted",
        "mint included",
        "mint final",
        "transfer included",
        "redeem included",
        "payout settled",
    ]
    assert bank.balance(supplier_account) == 20_000_00
    devnet.close()
