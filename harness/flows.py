"""Flows over the whole world, each returning a trace: per step, when it started, how long it
took, and its transaction hash or bank reference."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from devnet.core.http import ApiError
from devnet.core.money import format_minor, format_units
from devnet.core.tokens import StableCoinClient
from devnet.core.wait import wait_until
from devnet.core.wallets import Wallet
from devnet.services.bank.api import Currency
from devnet.services.exchange.api import SweepStatus, TokenBalance, WithdrawalStatus
from devnet.services.issuer.api import (
    MINT_SETTLED,
    REDEMPTION_SETTLED,
    MintOut,
    MintStatus,
    RedemptionOut,
    RedemptionStatus,
)
from harness.connect import Devnet

T = TypeVar("T")


class FlowError(RuntimeError):
    def __init__(self, step: str, message: str, trace: Trace):
        self.step = step
        self.trace = trace
        super().__init__(f"{trace.flow}: step '{step}' failed: {message}")


@dataclass
class Step:
    name: str
    started: float
    seconds: float = 0.0
    tx_hash: str | None = None
    block: int | None = None
    bank_ref: str | None = None
    detail: str = ""


@dataclass
class Trace:
    flow: str
    steps: list[Step] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    @contextmanager
    def record(self, name: str) -> Iterator[Step]:
        step = Step(name=name, started=time.time())
        t0 = time.perf_counter()
        try:
            yield step
        except FlowError:
            raise
        except Exception as e:
            step.seconds = time.perf_counter() - t0
            step.detail = f"{type(e).__name__}: {e}"
            self.steps.append(step)
            raise FlowError(name, str(e), self) from e
        step.seconds = time.perf_counter() - t0
        self.steps.append(step)


def poll(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.02) -> T:
    """Until `probe` answers or `timeout` passes. A service or node that is down or restarting
    (a refused connection, a 5xx) is "not yet", as a client waiting for an outcome treats it:
    what the flow waits for still happens once the component is back."""
    return wait_until(
        probe,
        timeout,
        what,
        interval=interval,
        transient=(httpx.TransportError, httpx.HTTPStatusError, ApiError),
        transient_if=lambda e: not isinstance(e, ApiError) or e.status >= 500,
    )


#: How long one long poll asks the issuer to wait for an outcome before answering anyway.
LONG_POLL_S = 10.0


def long_poll(probe: Callable[[float], T | None], timeout: float, what: str, wait: float = LONG_POLL_S) -> T:
    """Until `probe(seconds)` answers or `timeout` passes. Each probe is one long poll, which the
    service answers as soon as the outcome is there, else after `seconds` (`wait`, or what is
    left of the timeout): one request at a time, none waiting on a fixed interval. As in `poll`,
    a service down or restarting (a refused connection, a 5xx) is "not yet"."""
    deadline = time.monotonic() + timeout

    def once() -> T | None:
        return probe(max(0.0, min(wait, deadline - time.monotonic())))

    return poll(once, timeout, what)


def _mint_for(devnet: Devnet, payment_id: str, wait: float) -> MintOut | None:
    try:
        mint = devnet.issuer.mint_by_payment(payment_id, wait=wait)
    except ApiError as e:
        if e.status == 404:
            return None
        raise
    if mint.status in MINT_SETTLED:
        return mint
    return None


def settled_mint(devnet: Devnet, payment_id: str, timeout: float) -> MintOut:
    """The mint a bank payment caused, once settled (minted, failed or held)."""
    return long_poll(lambda wait: _mint_for(devnet, payment_id, wait), timeout, "mint")


def settled_payout(devnet: Devnet, tx_hash: str, timeout: float) -> RedemptionOut:
    """A redemption of the transaction `tx_hash` once it left pending (paid, failed or reorged)."""

    def settled(wait: float) -> RedemptionOut | None:
        found = devnet.issuer.redemptions_by_tx(tx_hash, wait=wait)
        return next((r for r in found if r.status in REDEMPTION_SETTLED), None)

    return long_poll(settled, timeout, "payout")


#: Gas limits of a flow's own transactions, so that each is sent without asking the node to
#: estimate it (eth_estimateGas is a binary search over EVM runs, and a round trip, for every
#: transaction). About twice what they use (measured on the devnet's tokens: a transfer 41k,
#: 58k to a new holder; a redeem 44k-66k). A revert still fails the step with its reason,
#: read from the mined transaction's receipt instead of from the estimate.
TRANSFER_GAS = 100_000
REDEEM_GAS = 120_000

#: The step that pays for a mint, per token.
PAY_STEP = {"KGST": "bank credit", "USDKG": "mint request accepted"}

#: While a mint is awaited on chain, how often the issuer is asked whether it refused it instead
#: (failed or held), so such a flow fails with the issuer's reason rather than a timeout.
REFUSAL_CHECK_S = 2.0


def observe_mint(
    devnet: Devnet, landed: Future[dict[str, Any]], payment_id: str, timeout: float
) -> dict[str, Any]:
    """The mint's `Transfer` log, from the chain (the chain client's block follower resolves
    `landed`); meanwhile, every REFUSAL_CHECK_S, one quick question to the issuer in case it
    refused the mint. Raises on a refusal or when `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return landed.result(max(0.0, min(REFUSAL_CHECK_S, deadline - time.monotonic())))
        except FutureTimeout:
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no mint on chain after {timeout} s")
        try:
            mint = _mint_for(devnet, payment_id, 0)
        except (httpx.TransportError, httpx.HTTPStatusError, ApiError):
            continue  # the issuer is down or restarting: keep watching the chain
        if mint is not None and mint.status != MintStatus.MINTED:
            raise RuntimeError(f"mint {mint.status}: {mint.reason}")


def _mint_steps(
    devnet: Devnet,
    token: StableCoinClient,
    wallet: Wallet,
    minor: int,
    trace: Trace,
    pay: Callable[[Step], str],
    timeout: float,
    final: bool,
) -> None:
    """`pay` (recorded as `trace`'s first step) causes a mint of `minor` to `wallet`. "mint
    included": the chain shows the mint's Transfer to the wallet (observed, not polled). With
    `final`, "mint final": the issuer has booked it `minted`, on a final block (a long poll)."""
    currency = "KGS" if token.info.symbol == "KGST" else "USD"
    landed = token.watch_mint(wallet, token.info.from_minor(minor))
    try:
        with trace.record(PAY_STEP[token.info.symbol]) as step:
            payment_id = pay(step)
        with trace.record("mint included") as step:
            log = observe_mint(devnet, landed, payment_id, timeout)
            step.tx_hash, step.block = log["transactionHash"], int(log["blockNumber"], 16)
            step.bank_ref = payment_id
            step.detail = f"{format_minor(minor)} {token.info.symbol} to {wallet.address}"
    finally:
        landed.cancel()
    if not final:
        return
    with trace.record("mint final") as step:
        mint = settled_mint(devnet, payment_id, timeout)
        if mint.status != MintStatus.MINTED:
            raise RuntimeError(f"mint {mint.status}: {mint.reason}")
        step.tx_hash, step.block, step.bank_ref = mint.tx_hash, mint.block_number, payment_id
        step.detail = f"booked by the issuer ({format_minor(minor)} {currency} of reserve)"


def mint_kgst(
    devnet: Devnet,
    payer_account: str,
    wallet: Wallet,
    tyiyn: int,
    trace: Trace,
    timeout: float = 60,
    final: bool = True,
) -> None:
    """Pay som into the KGST reserve account naming a wallet; the issuer mints that amount.
    `final=False` ends when the tokens are in the wallet (what a load run measures); the issuer's
    booking is then checked by the reconciliation after the run."""
    reserve = devnet.reserve_account("KGST")

    def pay(step: Step) -> str:
        payment = devnet.bank.pay(
            payer_account,
            reserve,
            tyiyn,
            Currency.KGS,
            end_to_end_id=uuid.uuid4().hex[:32],
            remittance_info=f"KGST to {wallet.address}",
            creditor_reference=wallet.address,  # the structured field the issuer mints to
        )
        step.bank_ref = payment.id
        step.detail = f"{format_minor(tyiyn)} KGS to the KGST reserve account"
        return payment.id

    _mint_steps(devnet, devnet.kgst, wallet, tyiyn, trace, pay, timeout, final)


def remit_on_chain(
    token: StableCoinClient, sender: Wallet, recipient: Wallet, amount: int, trace: Trace
) -> None:
    """Wallet to wallet: the cross-border leg, settled on BSC."""
    with trace.record("transfer included") as step:
        result = token.transfer(sender, recipient, amount, gas=TRANSFER_GAS)
        step.tx_hash, step.block = result.tx_hash, result.block_number
        step.detail = (
            f"{format_units(amount, token.info.decimals)} {token.info.symbol} to {recipient.address}"
        )


def redeem(
    devnet: Devnet,
    token: StableCoinClient,
    holder: Wallet,
    amount: int,
    bank_account: str,
    trace: Trace,
    timeout: float = 60,
) -> None:
    """Burn for fiat: the issuer pays the bank account named in the redemption."""
    with trace.record("redeem included") as step:
        result = token.redeem(holder, amount, bank_account, gas=REDEEM_GAS)
        step.tx_hash, step.block = result.tx_hash, result.block_number
        event = token.events(result, "Redeemed")[0]
        step.detail = f"redemption #{event['redemptionId']} to account {bank_account}"
    with trace.record("payout settled") as step:
        redemption = settled_payout(devnet, result.tx_hash, timeout)
        if redemption.status != RedemptionStatus.PAID:
            raise RuntimeError(f"payout {redemption.status}: {redemption.reason}")
        step.bank_ref = redemption.bank_payment_id
        currency = "KGS" if token.info.symbol == "KGST" else "USD"
        step.detail = f"{format_minor(redemption.payout_amount)} {currency} to {bank_account}"


def kgst_remittance_cycle(
    devnet: Devnet,
    *,
    migrant_account: str,
    migrant: Wallet,
    family: Wallet,
    family_account: str,
    tyiyn: int,
    final: bool = True,
) -> Trace:
    """A migrant worker buys KGST with som, sends it home, and the family cashes it out."""
    trace = Trace("kgst remittance cycle")
    amount = devnet.kgst.info.from_minor(tyiyn)
    mint_kgst(devnet, migrant_account, migrant, tyiyn, trace, final=final)
    remit_on_chain(devnet.kgst, migrant, family, amount, trace)
    redeem(devnet, devnet.kgst, family, amount, family_account, trace)
    return trace


def mint_usdkg(
    devnet: Devnet,
    customer_account: str,
    wallet: Wallet,
    cents: int,
    trace: Trace,
    timeout: float = 60,
    final: bool = True,
) -> None:
    """An institutional (T3) customer buys USDKG with USD; refused unless gold covers it."""

    def pay(step: Step) -> str:
        accepted = devnet.issuer.request_usdkg_mint(customer_account, wallet.address, cents)
        step.bank_ref = accepted.bank_payment_id
        step.detail = f"{format_minor(cents)} USD paid into the USDKG reserve account"
        return accepted.bank_payment_id

    _mint_steps(devnet, devnet.usdkg, wallet, cents, trace, pay, timeout, final)


def usdkg_cycle(
    devnet: Devnet,
    *,
    buyer_account: str,
    buyer: Wallet,
    payee: Wallet,
    payee_account: str,
    cents: int,
    final: bool = True,
) -> Trace:
    """A fund buys gold-backed dollars, pays a supplier on chain, the supplier cashes out in USD."""
    trace = Trace("usdkg cycle")
    amount = devnet.usdkg.info.from_minor(cents)
    mint_usdkg(devnet, buyer_account, buyer, cents, trace, final=final)
    remit_on_chain(devnet.usdkg, buyer, payee, amount, trace)
    redeem(devnet, devnet.usdkg, payee, amount, payee_account, trace)
    return trace


def remit_via_exchange(
    devnet: Devnet,
    token: StableCoinClient,
    sender: Wallet,
    recipient: Wallet,
    amount: int,
    trace: Trace,
    timeout: float = 60,
) -> None:
    """The exchange route: deposit -> credited and unlocked after confirmations -> swept to the
    hot wallet -> internal transfer to the recipient's account -> withdrawal to their wallet."""
    ex = devnet.exchange
    symbol = token.info.symbol
    tag = uuid.uuid4().hex[:6]
    sender_user, recipient_user = ex.create_user(f"sender {tag}"), ex.create_user(f"recipient {tag}")
    address = ex.deposit_address(sender_user, symbol)
    network = ex.network(symbol)
    with trace.record("deposit included") as step:
        result = token.transfer(sender, address, amount)
        step.tx_hash, step.block = result.tx_hash, result.block_number
        step.detail = f"{format_units(amount, token.info.decimals)} {symbol} to deposit address {address}"

    def balance_reaches(kind: Callable[[TokenBalance], int]) -> bool:
        devnet.mine(1)  # confirmations need blocks
        return kind(ex.balance(sender_user, symbol)) >= amount

    def locked(balance: TokenBalance) -> int:
        return balance.locked

    def available(balance: TokenBalance) -> int:
        return balance.available

    with trace.record("deposit credited") as step:
        poll(lambda: balance_reaches(locked) or balance_reaches(available), timeout, "credit")
        step.detail = f"after {network.min_confirm} confirmations"
    with trace.record("deposit unlocked") as step:
        poll(lambda: balance_reaches(available), timeout, "unlock")
        step.detail = f"after {network.unlock_confirm} confirmations"
    with trace.record("swept to hot wallet") as step:
        sweeps = ex.sweep(symbol).sweeps
        for sweep in sweeps:
            swept = ex.wait_sweep(sweep.id, timeout=timeout)
            if swept.status != SweepStatus.COMPLETED:
                raise RuntimeError(f"sweep {swept.status}: {swept.failure_reason}")
            step.tx_hash = swept.tx_hash
        step.detail = f"{len(sweeps)} deposit address(es) swept"
    with trace.record("internal transfer") as step:
        transfer = ex.internal_transfer(sender_user, recipient_user, symbol, amount)
        step.detail = f"exchange transfer {transfer.id}"
    with trace.record("withdrawal completed") as step:
        withdrawal = ex.withdraw(recipient_user, symbol, recipient.address, amount)
        done = ex.wait_withdrawal(withdrawal.id, timeout=timeout)
        if done.status != WithdrawalStatus.COMPLETED:
            raise RuntimeError(f"withdrawal {done.status}: {done.failure_reason}")
        step.tx_hash = done.tx_hash
        step.detail = f"to {recipient.address}, fee {network.withdraw_fee}"


def kgst_exchange_cycle(
    devnet: Devnet,
    *,
    migrant_account: str,
    migrant: Wallet,
    family: Wallet,
    family_account: str,
    tyiyn: int,
) -> Trace:
    """The same remittance, through the exchange instead of wallet to wallet."""
    trace = Trace("kgst exchange remittance cycle")
    amount = devnet.kgst.info.from_minor(tyiyn)
    mint_kgst(devnet, migrant_account, migrant, tyiyn, trace)
    remit_via_exchange(devnet, devnet.kgst, migrant, family, amount, trace)
    received = amount - devnet.exchange.network("KGST").withdraw_fee
    redeem(devnet, devnet.kgst, family, received, family_account, trace)
    return trace
