"""Locust users: raw BEP-20 transfers, and flows through the whole world (each step its own
Locust request, so Locust's charts show per-step and whole-flow latency)."""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from gevent import GreenletExit
from locust import User, constant, constant_pacing, events, task
from locust.runners import WorkerRunner

from devnet.core.accounts import ROLE_LAYOUT, derive_account
from devnet.core.chain import Chain
from devnet.core.wallets import Wallet
from devnet.services.bank.api import Currency, KycTier
from devnet.services.exchange.api import WithdrawalStatus
from harness.flood import fund_senders
from harness.flows import FlowError, Trace, kgst_remittance_cycle, mint_kgst, poll, redeem
from loadtests.common import (
    FUNDED_LANES,
    WALLETS_PER_USER,
    Wages,
    devnet,
    lane,
    lane_number,
    lane_wallets,
    report,
    report_trace,
)
from loadtests.lanes import lane_book

#: USD 200 in som: the typical transfer home.
REMITTANCE_TYIYN = 17_480_00

#: How long a user's bank write waits for a bank that is down or restarting (`devnet load --kill`).
BANK_WAIT_S = 120.0

T = TypeVar("T")


def until_answered(what: str, write: Callable[[str], T]) -> T:
    """`write(key)` until the bank answers: a refused connection or a 5xx is "not yet" (a user
    whose setup met a killed bank would otherwise die). Every try carries the same
    Idempotency-Key, so a write the bank did just before it died is answered, not done twice."""
    key = uuid.uuid4().hex
    return poll(lambda: write(key), BANK_WAIT_S, what, interval=0.5)


@events.test_start.add_listener
def fund_raw_transfer_lanes(environment: Any, **_: Any) -> None:
    """Raw-transfer users need KGST: minted once, on the master, to the funded lanes."""
    if isinstance(environment.runner, WorkerRunner):
        return
    if not any(cls.__name__ == "RawTransferUser" for cls in environment.user_classes):
        return
    d = devnet()
    funded = d.accounts(0, FUNDED_LANES * WALLETS_PER_USER)
    # The last issuer minter key, so that a running issuer's own mints keep their nonces.
    minter = Wallet.of(
        derive_account(d.env.mnemonic, ROLE_LAYOUT.first_minter + ROLE_LAYOUT.minter_count - 1)
    )
    fund_senders(d.kgst, d.role("reporter"), minter, funded, d.kgst.units(1_000_000))


class RawTransferUser(User):
    """1-unit KGST transfers between the wallets of its own lane, back to back."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.devnet = devnet()
        self.wallets = lane(self.environment)
        kgst = self.devnet.kgst
        self.calldata = [
            self.devnet.chain.encode_call(
                kgst.contract, "transfer", self.wallets[(i + 1) % len(self.wallets)].address, 1
            )
            for i in range(len(self.wallets))
        ]
        self.turn = itertools.cycle(range(len(self.wallets)))

    @task
    def transfer(self) -> None:
        chain, kgst = self.devnet.chain, self.devnet.kgst
        i = next(self.turn)
        started = time.perf_counter()
        # Signed first, so the hash is known even if the user is stopped during submission.
        signed = chain.sign(self.wallets[i], kgst.address, self.calldata[i], gas=60_000)
        try:
            chain.submit(self.wallets[i], signed)
            chain.wait(signed.hash_hex)
        except GreenletExit:
            # Locust kills users at the end of a run even mid-task: a transfer the node accepted
            # is still waited for and reported, so the run's numbers match the chain.
            if chain.known(signed.hash_hex):
                report(
                    self.environment,
                    "BEP-20",
                    "transfer included",
                    time.perf_counter() - started,
                    _settle(chain, signed.hash_hex),
                )
            raise
        except Exception as e:  # reported to Locust as a failure, not raised
            report(self.environment, "BEP-20", "transfer included", time.perf_counter() - started, e)
            return
        report(self.environment, "BEP-20", "transfer included", time.perf_counter() - started)


def _settle(chain: Chain, tx_hash: str) -> Exception | None:
    try:
        chain.wait(tx_hash, timeout=30)
    except Exception as e:
        return e
    return None


#: Open model (`devnet load --rate`): each user starts a flow every this many seconds, whatever
#: the last one took (Locust's constant_pacing); users started N per second then offer N flows
#: per second. 0: closed model, each user starts its next flow when the last one ends.
PACING_S = float(os.environ.get("LOAD_PACING_S", "0"))


class _FlowUser(User):
    """A migrant worker with a bank account and a wallet, and the family at home with theirs."""

    abstract = True
    wait_time = constant_pacing(PACING_S) if PACING_S else constant(0)

    def on_start(self) -> None:
        self.devnet = devnet()
        self.wages = Wages()
        number = lane_number(self.environment, from_end=True)
        self.migrant, self.family = list(lane_wallets(number))[:2]
        opened = lane_book().get(number)
        if opened is not None:  # the runner opened this lane's accounts before the run
            self.migrant_account, self.family_account = opened.migrant_account, opened.family_account
            return
        bank = self.devnet.bank
        tag = uuid.uuid4().hex[:6]
        migrant = until_answered(
            "the bank to open a customer",
            lambda key: bank.create_customer(f"Migrant {tag}", KycTier.T2, country="KG", key=key),
        )
        family = until_answered(
            "the bank to open a customer",
            lambda key: bank.create_customer(f"Family {tag}", KycTier.T1, country="KG", key=key),
        )
        self.migrant_account = until_answered(
            "the bank to open an account", lambda key: bank.open_account(migrant.id, Currency.KGS, key=key)
        ).number
        self.family_account = until_answered(
            "the bank to open an account", lambda key: bank.open_account(family.id, Currency.KGS, key=key)
        ).number

    def deposit(self, tyiyn: int) -> None:
        """Cash paid in at the bank to the migrant's account, waiting out a restarting bank."""
        until_answered(
            "the bank to take a deposit",
            lambda key: self.devnet.bank.deposit(self.migrant_account, tyiyn, Currency.KGS, key=key),
        )

    def fund(self, tyiyn: int) -> None:
        """See that the migrant's account holds `tyiyn` for the next flow (see `Wages`)."""
        due = self.wages.spend(tyiyn)
        if due:
            try:
                self.deposit(due)
            except BaseException:  # not paid in (the bank never answered, or the user stopped)
                self.wages.left -= due
                raise

    def run_flow(self, name: str, flow: Any) -> None:
        trace = Trace(name)
        started = time.perf_counter()
        try:
            flow(trace)
        except FlowError as e:
            report_trace(self.environment, e.trace, e, started)
            return
        report_trace(self.environment, trace, None, started)


class RemittanceUser(_FlowUser):
    """Full cycles: salary in som -> KGST minted -> sent home -> redeemed -> paid out."""

    @task
    def cycle(self) -> None:
        self.fund(REMITTANCE_TYIYN)

        def flow(trace: Trace) -> None:
            trace.steps.extend(
                kgst_remittance_cycle(
                    self.devnet,
                    migrant_account=self.migrant_account,
                    migrant=self.migrant,
                    family=self.family,
                    family_account=self.family_account,
                    tyiyn=REMITTANCE_TYIYN,
                    final=False,  # the issuer's books are checked by the reconciliation after
                ).steps
            )

        self.run_flow("kgst remittance cycle", flow)


class MintOnlyUser(_FlowUser):
    """Bank credit -> mint, over and over (the issuer's mint pipeline under load)."""

    @task
    def mint(self) -> None:
        self.fund(REMITTANCE_TYIYN)
        self.run_flow(
            "kgst mint",
            lambda trace: mint_kgst(
                self.devnet, self.migrant_account, self.migrant, REMITTANCE_TYIYN, trace, final=False
            ),
        )


class RedeemOnlyUser(_FlowUser):
    """Redeem -> payout, from a stock minted at start (the payout path under load)."""

    def on_start(self) -> None:
        super().on_start()
        self.deposit(100 * REMITTANCE_TYIYN)
        mint_kgst(self.devnet, self.migrant_account, self.migrant, 100 * REMITTANCE_TYIYN, Trace("stock"))

    @task
    def redeem(self) -> None:
        kgst = self.devnet.kgst
        amount = kgst.info.from_minor(REMITTANCE_TYIYN)
        if kgst.balance_of(self.migrant) < amount:
            self.on_start()
        self.run_flow(
            "kgst redeem",
            lambda trace: redeem(self.devnet, kgst, self.migrant, amount, self.family_account, trace),
        )


class ExchangeUser(_FlowUser):
    """Deposits to the exchange and withdrawals from it: the exchange's watcher and hot wallet
    under load. At start the user buys a stock of KGST and deposits it (swept to the hot wallet
    as float); then each task deposits 1 KGST and withdraws 1 KGST back to its wallet."""

    def on_start(self) -> None:
        super().on_start()
        from harness.flows import remit_via_exchange

        kgst = self.devnet.kgst
        self.deposit(200_00)
        stock = Trace("exchange stock")
        mint_kgst(self.devnet, self.migrant_account, self.migrant, 200_00, stock)
        # Half goes in as float (swept to the hot wallet), half stays for deposits.
        remit_via_exchange(self.devnet, kgst, self.migrant, self.family, 100 * 10**kgst.info.decimals, stock)
        ex = self.devnet.exchange
        self.user_id = ex.create_user(f"load {uuid.uuid4().hex[:6]}")
        self.address = ex.deposit_address(self.user_id, "KGST")

    @task
    def deposit_and_withdraw(self) -> None:
        kgst, ex = self.devnet.kgst, self.devnet.exchange
        unit = 10**kgst.info.decimals

        def flow(trace: Trace) -> None:
            with trace.record("deposit included") as step:
                step.tx_hash = kgst.transfer(self.migrant, self.address, unit).tx_hash
            with trace.record("deposit unlocked"):
                poll(
                    lambda: self.devnet.mine(1) and ex.balance(self.user_id, "KGST").available >= unit,
                    60,
                    "unlock",
                )
            with trace.record("withdrawal completed") as step:
                done = ex.wait_withdrawal(
                    ex.withdraw(self.user_id, "KGST", self.migrant.address, unit).id, timeout=60
                )
                if done.status != WithdrawalStatus.COMPLETED:
                    raise RuntimeError(f"withdrawal {done.status}: {done.failure_reason}")
                step.tx_hash = done.tx_hash

        self.run_flow("exchange deposit and withdrawal", flow)
