"""Reconciliation of the whole world: does the money add up?

Sources: the chain (Transfer, Mint and Redeemed events, supply, feeds and policies), the
issuer's books (mints, redemptions), the bank (the reserve accounts' statements) and, when it
runs, the exchange (liabilities and credited deposits). Every check says what it compared.
"""

from __future__ import annotations

import time
from collections import Counter

from pydantic import BaseModel

from devnet.core.events import DecodedLog, decode_log, topic
from devnet.core.tokens import StableCoinClient
from devnet.services.bank.api import CreditDebit
from devnet.services.issuer.api import MintOut, MintStatus, RedemptionOut, RedemptionStatus
from harness.connect import Devnet, ServiceNotRunning

ZERO_ADDRESS = "0x" + "00" * 20
#: Mints not final yet.
IN_FLIGHT = (MintStatus.QUEUED, MintStatus.SENT, MintStatus.INCLUDED)


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class Report(BaseModel):
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def violations(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def text(self) -> str:
        return "\n".join(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks)


def _events(devnet: Devnet, token: StableCoinClient, name: str) -> list[DecodedLog]:
    """Every `name` event of `token` since genesis, decoded."""
    logs = devnet.chain.rpc.call(
        "eth_getLogs",
        {"fromBlock": "0x0", "toBlock": "latest", "address": token.address, "topics": [topic(name)]},
    )
    return [e for e in map(decode_log, logs) if e is not None and e.name == name]


def _check_supply(devnet: Devnet, token: StableCoinClient) -> Check:
    minted = burned = 0
    for transfer in _events(devnet, token, "Transfer"):
        value = transfer.args["value"]
        if transfer.args["from"] == ZERO_ADDRESS:
            minted += value
        if transfer.args["to"] == ZERO_ADDRESS:
            burned += value
    supply = token.total_supply()
    rebuilt = minted - burned
    return Check(
        name=f"{token.info.symbol} supply = rebuilt from Transfer events",
        ok=rebuilt == supply,
        detail=f"totalSupply {supply}, mints {minted} - burns {burned} = {rebuilt}",
    )


def _check_kgst_reserve(devnet: Devnet) -> list[Check]:
    kgst = devnet.kgst
    supply = kgst.total_supply()
    checks = []
    try:
        reserve = devnet.bank.balance(devnet.bank.reserve_accounts()["KGST"])
    except ServiceNotRunning:
        reserve = None
    if reserve is not None:
        checks.append(
            Check(
                name="KGST supply <= bank reserve",
                ok=supply <= kgst.info.from_minor(reserve),
                detail=f"supply {supply} base units, reserve account {reserve} tyiyn",
            )
        )
    feed = kgst.feeds["reserve"].functions
    attested = int(feed.latestRoundData().call()[1]) if feed.latestRound().call() else 0
    checks.append(
        Check(
            name="KGST supply <= attested reserve (feed)",
            ok=supply <= kgst.info.from_minor(int(attested)),
            detail=f"supply {supply}, feed {attested} tyiyn",
        )
    )
    return checks


def _check_usdkg_floor(devnet: Devnet) -> Check:
    usdkg = devnet.usdkg
    supply = usdkg.total_supply()
    if supply == 0:
        return Check(name="USDKG collateral floor held", ok=True, detail="no USDKG in circulation")
    floor = int(devnet.chain.call(usdkg.policy, "floorBps"))
    try:
        ratio = int(devnet.chain.call(usdkg.policy, "collateralRatioBps", supply))
    except Exception as e:  # a stale report: the floor cannot be shown to hold
        return Check(name="USDKG collateral floor held", ok=False, detail=f"cannot value the collateral: {e}")
    return Check(
        name="USDKG collateral floor held", ok=ratio >= floor, detail=f"ratio {ratio} bps, floor {floor} bps"
    )


def _issuer_books(devnet: Devnet) -> tuple[list[MintOut], list[RedemptionOut]]:
    return devnet.issuer.mints(limit=1_000_000), devnet.issuer.redemptions(limit=1_000_000)


def one_to_one(name: str, onchain: Counter[str], booked: Counter[str]) -> Check:
    """Each on-chain occurrence (by transaction hash) is booked once, and each booking is on
    chain once. Occurrences are counted on each side on its own: one side's single count must
    not hide the other side's two."""
    orphans = sorted(set(onchain) - set(booked))
    unseen = sorted(set(booked) - set(onchain))
    doubles = sorted({h for h, n in onchain.items() if n > 1} | {h for h, n in booked.items() if n > 1})
    return Check(
        name=name,
        ok=not orphans and not unseen and not doubles,
        detail=f"{sum(onchain.values())} on chain, {sum(booked.values())} booked"
        + (f"; on chain, not booked: {orphans[:3]}" if orphans else "")
        + (f"; booked, not on chain: {unseen[:3]}" if unseen else "")
        + (f"; more than once: {doubles[:3]}" if doubles else ""),
    )


def _check_mints(devnet: Devnet, mints: list[MintOut]) -> list[Check]:
    checks = []
    for symbol in ("KGST", "USDKG"):
        token = devnet.token(symbol)
        onchain = Counter(event.tx_hash for event in _events(devnet, token, "Mint"))
        booked = Counter(str(m.tx_hash) for m in mints if m.token == symbol and m.status == MintStatus.MINTED)
        checks.append(one_to_one(f"{symbol} mints: each on-chain mint is one issuer mint", onchain, booked))
        reserve = devnet.bank.reserve_accounts()[symbol]
        credits = {
            e.payment_id: e
            for e in devnet.bank.statement(reserve).entries
            if e.credit_debit == CreditDebit.CRDT
        }
        by_payment = Counter(m.bank_payment_id for m in mints if m.token == symbol)
        unpaired = [m.id for m in mints if m.token == symbol and m.bank_payment_id not in credits]
        wrong = [
            m.id
            for m in mints
            if m.token == symbol
            and m.bank_payment_id is not None
            and m.bank_payment_id in credits
            and credits[m.bank_payment_id].amount != m.fiat_amount
        ]
        twice = [p for p, n in by_payment.items() if n > 1]
        no_mint = [p for p in credits if p not in by_payment]
        checks.append(
            Check(
                name=f"{symbol} mints: each paired with one bank credit of the same amount",
                ok=not unpaired and not wrong and not twice and not no_mint,
                detail=f"{len(credits)} reserve credits, {sum(by_payment.values())} mints"
                + (f"; mints without a credit: {unpaired[:3]}" if unpaired else "")
                + (f"; amount differs: {wrong[:3]}" if wrong else "")
                + (f"; credit minted twice: {twice[:3]}" if twice else "")
                + (f"; credit with no mint: {no_mint[:3]}" if no_mint else ""),
            )
        )
    held = [m for m in mints if m.status == MintStatus.HELD]
    if held:
        checks.append(
            Check(name="held credits (no wallet named) are listed", ok=True, detail=f"{len(held)} held")
        )
    return checks


def _check_redemptions(devnet: Devnet, redemptions: list[RedemptionOut]) -> list[Check]:
    checks = []
    for symbol in ("KGST", "USDKG"):
        token = devnet.token(symbol)
        events = {(event.tx_hash, event.log_index) for event in _events(devnet, token, "Redeemed")}
        # A redemption whose block left the chain before its payout is void ("reorged").
        booked = Counter(
            (r.tx_hash, r.log_index)
            for r in redemptions
            if r.token == symbol and r.status != RedemptionStatus.REORGED
        )
        reserve = devnet.bank.reserve_accounts()[symbol]
        debits = {
            e.payment_id: e
            for e in devnet.bank.statement(reserve).entries
            if e.credit_debit == CreditDebit.DBIT
        }
        mine = [r for r in redemptions if r.token == symbol]
        paid = [r for r in mine if r.status == RedemptionStatus.PAID]
        payouts = Counter(r.bank_payment_id for r in paid)
        problems = []
        if missing := sorted(events - set(booked)):
            problems.append(f"redeemed on chain, not booked: {missing[:3]}")
        if ghosts := sorted(set(booked) - events):
            problems.append(f"booked, not on chain: {ghosts[:3]}")
        if twice := [k for k, n in booked.items() if n > 1]:
            problems.append(f"booked twice: {twice[:3]}")
        if unpaid := [r.id for r in paid if r.bank_payment_id not in debits]:
            problems.append(f"paid with no bank debit: {unpaid[:3]}")
        if doubled := [p for p, n in payouts.items() if n > 1]:
            problems.append(f"one payout for two redemptions: {doubled[:3]}")
        if stray := sorted(set(debits) - set(payouts)):
            problems.append(f"reserve debits with no redemption: {stray[:3]}")
        if pending := [r.id for r in mine if r.status == RedemptionStatus.PENDING]:
            problems.append(f"still unpaid: {pending[:3]}")
        failed = [r for r in mine if r.status == RedemptionStatus.FAILED]
        checks.append(
            Check(
                name=f"{symbol} redemptions: each paid out once",
                ok=not problems,
                detail=f"{len(events)} on chain, {len(paid)} paid, {len(failed)} refused (reported)"
                + ("; " + "; ".join(problems) if problems else ""),
            )
        )
    return checks


def _check_exchange(devnet: Devnet) -> list[Check]:
    try:
        summary = devnet.exchange.reconciliation()
    except ServiceNotRunning:
        return []
    checks = []
    for symbol, row in summary.tokens.items():
        liabilities, holdings = row.liabilities, row.holdings
        checks.append(
            Check(
                name=f"exchange {symbol}: liabilities <= on-chain holdings",
                ok=liabilities <= holdings,
                detail=f"owed to users {liabilities}, held on chain {holdings}",
            )
        )
    duplicates = summary.duplicate_deposits
    checks.append(
        Check(
            name="exchange: no deposit credited twice",
            ok=not duplicates,
            detail=f"{summary.credited_deposits} deposits credited"
            + (f"; twice: {duplicates[:3]}" if duplicates else ""),
        )
    )
    return checks


def reconcile(devnet: Devnet, settle_timeout: float = 30.0) -> Report:
    """Check the whole world; work still in flight (mints queued, payouts pending) is given
    `settle_timeout` seconds to settle before it counts against the report."""
    deadline = time.monotonic() + settle_timeout
    while True:
        report = _reconcile_once(devnet)
        if report.ok or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


def _reconcile_once(devnet: Devnet) -> Report:
    checks = [
        _check_supply(devnet, devnet.kgst),
        _check_supply(devnet, devnet.usdkg),
        _check_usdkg_floor(devnet),
    ]
    checks += _check_kgst_reserve(devnet)
    if "issuer" in devnet.env.services and "bank" in devnet.env.services:
        mints, redemptions = _issuer_books(devnet)
        in_flight = [m.id for m in mints if m.status in IN_FLIGHT]
        checks.append(
            Check(
                name="no mint left in flight",
                ok=not in_flight,
                detail=f"{len(in_flight)} queued, sent or included but not final",
            )
        )
        checks += _check_mints(devnet, mints)
        checks += _check_redemptions(devnet, redemptions)
    checks += _check_exchange(devnet)
    return Report(checks=checks)
