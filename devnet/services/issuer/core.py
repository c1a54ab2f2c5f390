"""What the issuer does: turn bank credits and USDKG requests into mints, redemptions into
payouts, and bank and vault attestations into on-chain reserve reports."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from web3.contract import Contract

from devnet.core.accounts import ROLE_LAYOUT, derive_account
from devnet.core.attestation import attestation_message
from devnet.core.chain import Chain, ContractCall, Reverted
from devnet.core.chainfollow import (
    Header,
    final_height,
    final_nonce,
    first_divergence,
    read_headers,
)
from devnet.core.env import DevnetEnv
from devnet.core.events import DecodedLog, decode_log, topic
from devnet.core.http import ApiError
from devnet.core.rpc import RpcError
from devnet.core.signing import SignedTx
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet
from devnet.services.bank.api import (
    BULK_MAX,
    BulkPayment,
    CreditDebit,
    Currency,
    Party,
    account_number_problem,
)
from devnet.services.bank.client import BankClient
from devnet.services.common.cursors import get_cursor, set_cursor
from devnet.services.common.db import Database
from devnet.services.custodian.api import AttestationOut
from devnet.services.custodian.client import CustodianClient
from devnet.services.issuer.api import MintStatus, RedemptionStatus
from devnet.services.issuer.models import Mint, Redemption, ReserveReport, ScannedBlock

log = logging.getLogger("devnet.issuer")
WALLET = re.compile(r"0x[0-9a-fA-F]{40}")
CURRENCY = {"KGST": Currency.KGS, "USDKG": Currency.USD}
#: Mints signed and not final yet.
IN_FLIGHT = (MintStatus.SENT, MintStatus.INCLUDED)
SCAN_BLOCKS_PER_TICK = 500
#: Sent mints are looked up again at each new head, and at least this often: only a new block
#: can include, finalize or reorganise them (a reorg to the same height is seen within this).
SETTLE_REFRESH_S = 1.0
SCANNED_BLOCKS_KEPT = 256
#: Values in one SQL `IN (...)`, within SQLite's bound parameters.
IN_CHUNK = 5_000


#: A reserve report older than this (well inside the feed's heartbeat) is refreshed rather
#: than trusted.
REPORT_MAX_AGE_S = 3600


class _OpenMint(NamedTuple):
    """What a look at the sent mints reads of each (its columns, not the ORM row)."""

    id: int
    tx_hash: str | None
    raw_tx: str | None
    status: str
    minter: str | None
    nonce: int | None
    block_hash: str | None


def credit_source(payment_id: str) -> str:
    """A KGST mint's cause (`Mint.source_ref`): the bank payment into the reserve account."""
    return f"bank:{payment_id}"


@dataclass
class TickReads:
    """The chain as one mint tick saw it (one JSON-RPC batch)."""

    paused: dict[str, bool]
    #: (token, wallet) -> blacklisted on that token
    blacklisted: dict[tuple[str, str], bool]
    kgst_supply: int | None = None
    #: (answer, updated at) of the KGST reserve feed's latest round; None before the first
    kgst_reserve: tuple[int, int] | None = None


class Issuer:
    def __init__(
        self,
        db: Database,
        env: DevnetEnv,
        *,
        bank: BankClient | None,
        custodian: CustodianClient | None,
        minter_count: int,
        gas_per_mint: int,
        mint_batch: int,
        confirmations: int | None,
        custodian_signer: str | None,
        issuer_name: str,
    ):
        self.db = db
        self.chain = Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
        self.tokens = {sym: StableCoinClient(self.chain, t) for sym, t in env.deployment.tokens.items()}
        self.minters = [
            Wallet.of(derive_account(env.mnemonic, ROLE_LAYOUT.first_minter + i)) for i in range(minter_count)
        ]
        self.reporter = Wallet.of(derive_account(env.mnemonic, ROLE_LAYOUT.reporter))
        self.bank = bank
        self.custodian = custodian
        self.gas_per_mint = gas_per_mint
        self.mint_batch = mint_batch
        #: None: money is final at the node's `finalized` block; N: after N confirmations.
        self.confirmations = confirmations
        self.custodian_signer = custodian_signer
        self.issuer_name = issuer_name
        self._reserve_accounts: dict[str, str] = {}
        #: mint id -> when this process last checked that the node still knows its transaction
        self._pending_checked: dict[int, float] = {}
        #: the head at the last look at the sent mints, and when that was
        self._settled_head: int | None = None
        self._settled_at = 0.0
        #: mint id -> the receipt of its transaction, as a look at the sent mints read it
        self._receipts: dict[int, dict[str, Any]] = {}
        #: reports go out from the reporter and the mint workers: one at a time, the last one kept
        self._report_lock = threading.RLock()
        self._last_report: str | None = None

    def close(self) -> None:
        self.chain.close()

    # ---- bank credits -> KGST mints -------------------------------------------------------------

    def reserve_account(self, token: str) -> str:
        if not self._reserve_accounts:
            if self.bank is None:
                raise RuntimeError("no bank configured")
            self._reserve_accounts = self.bank.reserve_accounts()
        return self._reserve_accounts[token]

    def record_credit(
        self,
        session: Session,
        payment_id: str,
        amount: int,
        remittance_info: str,
        creditor_reference: str | None = None,
    ) -> Mint | None:
        """One KGST mint per bank payment into the KGST reserve account (a replay is a no-op).

        The wallet is the payment's structured creditor reference (ISO 20022
        RmtInf/Strd/CdtrRefInf/Ref); a payment without one may still name it in its free-text
        remittance information, the older way. A credit without a usable wallet is held: the
        money is in the reserve and the credit is listed for follow-up, never lost."""
        source = credit_source(payment_id)
        if session.scalar(select(Mint.id).where(Mint.source_ref == source)) is not None:
            return None
        token = self.tokens["KGST"]
        mint = Mint(
            source_ref=source,
            token="KGST",
            fiat_amount=amount,
            amount=str(token.info.from_minor(amount)),
            bank_payment_id=payment_id,
            status=MintStatus.QUEUED,
        )
        if creditor_reference is not None:
            if WALLET.fullmatch(creditor_reference):
                mint.wallet = to_checksum_address(creditor_reference)
            else:
                mint.status = MintStatus.HELD
                mint.reason = f"the creditor reference {creditor_reference!r} is not a wallet address"
        elif match := WALLET.search(remittance_info or ""):
            mint.wallet = to_checksum_address(match.group(0))
        else:
            mint.status = MintStatus.HELD
            mint.reason = "no wallet address in the payment's creditor reference or remittance information"
        session.add(mint)
        session.flush()
        return mint

    def sync_bank_statement(self) -> int:
        """Safety net for lost webhooks: book every reserve credit the statement shows."""
        if self.bank is None:
            return 0
        account = self.reserve_account("KGST")
        with self.db.read() as session:
            after = get_cursor(session, "bank_entry") or 0
        statement = self.bank.statement(account, after_entry=after)
        if not statement.entries:
            return 0
        credits = [e for e in statement.entries if e.credit_debit == CreditDebit.CRDT]
        booked = 0
        with self.db.transaction() as session:
            # Most credits were booked from their webhooks: one query finds those.
            sources = [credit_source(e.payment_id) for e in credits]
            known: set[str] = set()
            for start in range(0, len(sources), IN_CHUNK):
                chunk = sources[start : start + IN_CHUNK]
                known.update(session.scalars(select(Mint.source_ref).where(Mint.source_ref.in_(chunk))))
            for entry in credits:
                if credit_source(entry.payment_id) not in known and self.record_credit(
                    session, entry.payment_id, entry.amount, entry.remittance_info, entry.creditor_reference
                ):
                    booked += 1
            set_cursor(session, "bank_entry", statement.entries[-1].entry_id)
        return booked

    # ---- mints --------------------------------------------------------------------------------

    def process_mints(self) -> int:
        """Settle what earlier ticks sent, then sign, persist and submit the queued mints.

        A tick does not wait for its own receipts (the next ticks book them), so batches follow
        each other block after block instead of one batch per round trip.
        """
        self._settle_sent()
        with self.db.read() as session:
            queued = list(
                session.scalars(
                    select(Mint)
                    .where(Mint.status == MintStatus.QUEUED)
                    .order_by(Mint.id)
                    .limit(self.mint_batch)
                )
            )
        if not queued:
            return 0
        reads = self._tick_reads(queued)
        verdicts = {m.id: self._screen(m, reads) for m in queued}
        ready = [m for m in queued if verdicts[m.id] is None]
        if any(m.token == "KGST" for m in ready):
            self._cover_kgst(
                sum(int(m.amount) for m in ready if m.token == "KGST") + self._in_flight("KGST"), reads
            )
        # One transaction for the tick: the screened out noted, the rest signed (their rows
        # loaded with one SELECT, their changes written in one flush).
        signed: list[tuple[int, Wallet, SignedTx]] = []
        with self.db.transaction() as session:
            for i, mint in enumerate(self._load_mints(session, verdicts)):
                verdict = verdicts[mint.id]
                if mint.status != MintStatus.QUEUED:
                    continue  # changed since it was read (only this worker signs, so: not signed)
                if verdict is not None:
                    status, mint.reason = verdict
                    mint.status = status or mint.status
                    continue
                assert mint.wallet is not None
                token = self.tokens[mint.token]
                minter = self.minters[i % len(self.minters)]
                data = self.chain.encode_call(token.contract, "mint", mint.wallet, int(mint.amount))
                nonce = minter.next_nonce(self.chain.rpc)
                tx = self.chain.sign(minter, token.address, data, gas=self.gas_per_mint, nonce=nonce)
                # Persisted before it is sent: after a crash the same bytes are checked or resent.
                mint.status, mint.minter, mint.nonce = MintStatus.SENT, minter.address, nonce
                mint.raw_tx, mint.tx_hash = tx.raw_hex, tx.hash_hex
                mint.attempts += 1
                signed.append((mint.id, minter, tx))
        if not signed:
            return 0
        results = self.chain.send_raw_batch([tx for _, _, tx in signed])
        now = time.monotonic()
        for (mint_id, minter, _), result in zip(signed, results, strict=True):
            if isinstance(result, RpcError) and "already known" not in result.message:
                self._submission_failed(mint_id, minter, result)
            else:  # the node has it: asked whether it still does only if it stays pending
                self._pending_checked[mint_id] = now
        return len(signed)

    def _in_flight(self, token: str) -> int:
        """Base units sent but not yet booked: they need reserve cover too."""
        with self.db.read() as session:
            rows = session.scalars(
                select(Mint.amount).where(Mint.token == token, Mint.status == MintStatus.SENT)
            )
            return sum(int(a) for a in rows)

    def _tick_reads(self, queued: list[Mint]) -> TickReads:
        """What a mint tick reads from the chain, in one JSON-RPC batch: each token's pause,
        each wallet's blacklisting, and (for KGST) the supply and the last reserve report."""
        tokens = sorted({m.token for m in queued})
        wallets = sorted({(m.token, m.wallet) for m in queued if m.wallet is not None})
        calls: list[ContractCall] = [(self.tokens[t].contract, "paused", ()) for t in tokens]
        calls += [(self.tokens[t].contract, "isBlacklisted", (w,)) for t, w in wallets]
        kgst = self.tokens["KGST"]
        if "KGST" in tokens:
            calls += [(kgst.contract, "totalSupply", ()), (kgst.feeds["reserve"], "latestRoundData", ())]
        answers = self.chain.call_many(calls)
        for answer in answers[: len(tokens) + len(wallets)]:
            if isinstance(answer, Reverted):
                raise answer
        reads = TickReads(
            paused={t: bool(a) for t, a in zip(tokens, answers, strict=False)},
            blacklisted={tw: bool(a) for tw, a in zip(wallets, answers[len(tokens) :], strict=False)},
        )
        if "KGST" in tokens:
            supply, round_data = answers[-2:]
            if isinstance(supply, Reverted):
                raise supply
            reads.kgst_supply = int(supply)
            if not isinstance(round_data, Reverted):  # none before the first report
                reads.kgst_reserve = (int(round_data[1]), int(round_data[3]))
        return reads

    @staticmethod
    def _screen(mint: Mint, reads: TickReads) -> tuple[str | None, str] | None:
        """None when the mint may go out now, else (its new status, or None to keep it queued;
        the reason): a paused token's mints wait, a wallet the token blacklists is held
        (sanctions screening, instead of a reverted transaction)."""
        assert mint.wallet is not None
        if reads.paused[mint.token]:
            return None, f"{mint.token} is paused: waiting"
        if reads.blacklisted[(mint.token, mint.wallet)]:
            return MintStatus.HELD, "wallet is blacklisted on the token (sanctions): not minted"
        return None

    @staticmethod
    def _load_mints(session: Session, ids: Iterable[int]) -> list[Mint]:
        """These mints, in id order, with one SELECT (not one `session.get` each)."""
        return list(session.scalars(select(Mint).where(Mint.id.in_(list(ids))).order_by(Mint.id)))

    def _submission_failed(self, mint_id: int, minter: Wallet, error: RpcError) -> None:
        """The node refused the transaction: the mint goes back to the queue; a refused nonce that
        later transactions of this minter depend on is filled with a no-op transfer."""
        log.warning("mint %s refused by the node: %s", mint_id, error.message)
        with self.db.transaction() as session:
            mint = session.get(Mint, mint_id)
            assert mint is not None and mint.nonce is not None
            nonce = mint.nonce
            mint.status, mint.raw_tx, mint.tx_hash, mint.reason = MintStatus.QUEUED, None, None, error.message
        if "nonce too low" in error.message:
            minter.resync(self.chain.rpc)
            return
        filler = self.chain.sign(minter, minter.address, gas=21_000, nonce=nonce)
        try:
            self.chain.submit(minter, filler)
        except RpcError:
            minter.resync(self.chain.rpc)

    def _settle_sent(self) -> None:
        """Follow sent mints to finality, without waiting for those still pending.

        A receipt in a block that is not final makes the mint `included`; its outcome (minted,
        failed, held, queued again) is decided only once that block is final, because a reorg
        may still take the transaction out, and a mint requeued on the strength of a revert that
        a reorg then undoes would mint twice. A mint whose transaction left the chain goes back
        to `sent` and is resent: the same bytes and nonce, so it can never mint twice. Only when
        a *final* block has used its nonce for another transaction is it signed anew.

        Ticks come several times a block (and at each bank credit); while the head stays where it
        was at the last look (for up to SETTLE_REFRESH_S), there is nothing new to learn and the
        tick asks nothing more (before, each asked every sent mint's receipt: a third of the
        issuer's CPU under load)."""
        head = int(self.chain.rpc.call("eth_blockNumber"), 16)
        now = time.monotonic()
        if head == self._settled_head and now - self._settled_at < SETTLE_REFRESH_S:
            return
        self._settled_head, self._settled_at = head, now
        with self.db.read() as session:
            open_mints = [
                _OpenMint(*row)
                for row in session.execute(
                    select(
                        Mint.id,
                        Mint.tx_hash,
                        Mint.raw_tx,
                        Mint.status,
                        Mint.minter,
                        Mint.nonce,
                        Mint.block_hash,
                    ).where(Mint.status.in_(IN_FLIGHT))
                )
            ]
        if not open_mints:
            self._receipts.clear()
            return
        receipts = self._receipts_of(open_mints)
        final = final_height(self.chain.rpc, self.confirmations)
        #: what this look learned, written in one transaction at its end (a crash before: the
        #: next look learns it again): mints now in a block that is not final, and mints whose
        #: block is final with their outcome
        included: list[tuple[int, int, str]] = []
        finals: list[tuple[int, dict[str, Any], tuple[str, str | None]]] = []
        for (mint_id, tx_hash, raw, status, minter, nonce, block_hash), receipt in zip(
            open_mints, receipts, strict=True
        ):
            assert tx_hash and raw and minter is not None and nonce is not None
            if isinstance(receipt, RpcError):
                continue
            self._receipts.pop(mint_id, None)
            if receipt is None:
                if status == MintStatus.INCLUDED:  # its block was reorganised away: send it again
                    log.warning(
                        "mint %s: transaction %s left the chain in a reorg; resending", mint_id, tx_hash
                    )
                    self._pending_checked.pop(mint_id, None)
                    with self.db.transaction() as session:
                        mint = session.get(Mint, mint_id)
                        assert mint is not None
                        mint.status, mint.block_number, mint.block_hash = MintStatus.SENT, None, None
                checked = self._pending_checked.get(mint_id)
                if checked is None or now - checked > 10:  # first seen by this process, then every 10 s
                    self._pending_checked[mint_id] = now
                    if not self.chain.known(tx_hash):
                        self._resend(mint_id, raw, minter, nonce)
                continue
            self._pending_checked.pop(mint_id, None)
            number, in_block = int(receipt["blockNumber"], 16), str(receipt["blockHash"]).lower()
            if number > final:
                self._receipts[mint_id] = receipt
                if status != MintStatus.INCLUDED or block_hash != in_block:
                    included.append((mint_id, number, in_block))
                continue
            finals.append((mint_id, receipt, self._final_outcome(tx_hash, receipt)))
        if not included and not finals:
            return
        with self.db.transaction() as session:
            learned = [mint_id for mint_id, *_ in included] + [mint_id for mint_id, *_ in finals]
            mints = {m.id: m for m in self._load_mints(session, learned)}
            for mint_id, number, in_block in included:
                mint = mints[mint_id]
                mint.status, mint.block_number, mint.block_hash = MintStatus.INCLUDED, number, in_block
            for mint_id, receipt, outcome in finals:
                self._book_final(mints[mint_id], receipt, outcome)

    def _receipts_of(self, open_mints: list[_OpenMint]) -> list[dict[str, Any] | RpcError | None]:
        """The receipts of the sent mints' transactions (rows: id, tx hash, ..., block hash), in
        one batch. A receipt an earlier look read, in a block still canonical, is not asked
        again: one header per such block says whether it still is (each mint used to be asked
        for its receipt at every new head until final, about three times over). A mint whose
        block left the canonical chain is asked for its receipt again."""
        ids = {mint_id for mint_id, *_ in open_mints}
        self._receipts = {i: r for i, r in self._receipts.items() if i in ids}
        kept = {
            mint_id: receipt
            for mint_id, *_, block_hash in open_mints
            if (receipt := self._receipts.get(mint_id)) is not None
            and str(receipt["blockHash"]).lower() == block_hash
        }
        numbers = sorted({int(r["blockNumber"], 16) for r in kept.values()})
        asked = [tx_hash for mint_id, tx_hash, *_ in open_mints if mint_id not in kept]
        replies = self.chain.rpc.batch(
            [("eth_getTransactionReceipt", [tx_hash]) for tx_hash in asked]
            + [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        )
        fresh_by_id = dict(
            zip([m for m, *_ in open_mints if m not in kept], replies[: len(asked)], strict=True)
        )
        headers = replies[len(asked) :]
        canonical = {
            n: str(h["hash"]).lower() for n, h in zip(numbers, headers, strict=True) if isinstance(h, dict)
        }
        replaced = [
            (mint_id, tx_hash)
            for mint_id, tx_hash, *_, block_hash in open_mints
            if mint_id in kept and canonical.get(int(kept[mint_id]["blockNumber"], 16)) != block_hash
        ]
        if replaced:  # their blocks left the canonical chain: where are they now?
            again = self.chain.rpc.batch(
                [("eth_getTransactionReceipt", [tx_hash]) for _, tx_hash in replaced]
            )
            for (mint_id, _), reply in zip(replaced, again, strict=True):
                del kept[mint_id]
                self._receipts.pop(mint_id, None)
                fresh_by_id[mint_id] = reply
        return [kept[m] if m in kept else fresh_by_id[m] for m, *_ in open_mints]

    def _resend(self, mint_id: int, raw: str, minter: str, nonce: int) -> None:
        """Broadcast a stored mint again; if a final block gave its nonce to another transaction,
        it can never be mined, and the mint is queued to be signed anew."""
        try:
            self.chain.rpc.call("eth_sendRawTransaction", raw)
        except RpcError as e:
            if "nonce too low" not in e.message:
                log.warning("resending mint %s: %s", mint_id, e.message)
                return
            if final_nonce(self.chain.rpc, minter, self.confirmations) <= nonce:
                return  # the nonce is used in a block that is not final: wait and see
            log.warning(
                "mint %s: nonce %d of %s went to another transaction; signing it anew", mint_id, nonce, minter
            )
            with self.db.transaction() as session:
                mint = session.get(Mint, mint_id)
                assert mint is not None
                if mint.status == MintStatus.SENT:
                    mint.status, mint.raw_tx, mint.tx_hash = MintStatus.QUEUED, None, None
                    mint.reason = f"nonce {nonce} went to another transaction: signed again"

    def _final_outcome(self, tx_hash: str, receipt: dict[str, Any]) -> tuple[str, str | None]:
        """What a mint in a final block did: minted, or failed and why (asked of the node)."""
        if receipt["status"] == "0x1":
            return MintStatus.MINTED, None
        return MintStatus.FAILED, self.chain.revert_reason(tx_hash, receipt)

    @staticmethod
    def _book_final(mint: Mint, receipt: dict[str, Any], outcome: tuple[str, str | None]) -> None:
        """The mint's block is final: book what happened."""
        mint.status, mint.reason = outcome
        mint.block_number = int(receipt["blockNumber"], 16)
        mint.block_hash = str(receipt["blockHash"]).lower()
        reason = mint.reason or ""
        if mint.status != MintStatus.FAILED:
            return
        if "blacklisted" in reason:
            mint.status = MintStatus.HELD  # blacklisted after screening: held, as if screened out
        elif "paused" in reason or (mint.token == "KGST" and "reserve" in reason):
            # Paused after screening (waits for unpause), or the reserve report lost the race
            # to the mint (the credit is in the reserve): transient, so queued again.
            mint.status, mint.raw_tx, mint.tx_hash = MintStatus.QUEUED, None, None
            mint.block_number = mint.block_hash = None

    def _cover_kgst(self, pending_units: int, reads: TickReads) -> None:
        """Make the on-chain reserve report cover supply + the mints about to be sent."""
        token = self.tokens["KGST"]
        assert reads.kgst_supply is not None
        needed = reads.kgst_supply + pending_units
        if reads.kgst_reserve is not None:
            answer, updated_at = reads.kgst_reserve
            fresh = self._chain_time() - updated_at <= REPORT_MAX_AGE_S
            if fresh and token.info.from_minor(answer) >= needed:
                return
        # Not waited for: the mints follow at once and land behind it (a lost race is retried).
        self.report_bank_reserve(force=True, wait=False)

    # ---- reserve reports ----------------------------------------------------------------------

    def _feed_state(self, token: StableCoinClient, feed: str) -> tuple[int, int] | None:
        """(answer, updated at) of a feed's latest round, or None before its first report."""
        try:
            _, answer, _, updated_at, _ = token.feeds[feed].functions.latestRoundData().call()
        except Exception:
            return None
        return int(answer), int(updated_at)

    def _feed_answer(self, token: StableCoinClient, feed: str) -> int | None:
        """The latest answer, or None when there is none or it is over an hour old (well inside
        the heartbeat): then it is refreshed rather than trusted."""
        state = self._feed_state(token, feed)
        if state is None or self._chain_time() - state[1] > REPORT_MAX_AGE_S:
            return None
        return state[0]

    def _chain_time(self) -> int:
        return int(self.chain.get_block("latest")["timestamp"], 16)

    def _report(
        self, token: StableCoinClient, feed: str, answer: int, observed_at: int, wait: bool = True
    ) -> None:
        observed_at = min(observed_at, self._chain_time())
        contract = token.feeds[feed]
        with self._report_lock:
            tx_hash = self._send_report(contract, answer, observed_at, wait)
        with self.db.transaction() as session:
            session.add(
                ReserveReport(
                    feed=f"{token.info.symbol}.{feed}",
                    answer=str(answer),
                    observed_at=observed_at,
                    tx_hash=tx_hash,
                )
            )

    def _send_report(self, contract: Contract, answer: int, observed_at: int, wait: bool) -> str:
        last = self._last_report
        if last is not None and not self.chain.known(last):
            # A reorg dropped it: the reporter's local nonce is ahead of the chain, and every later
            # report would wait behind the gap. Realign with the node first.
            log.warning("reserve report %s left the chain; realigning the reporter's nonce", last)
            self.reporter.resync(self.chain.rpc)
        if wait:
            tx_hash = self.chain.transact(self.reporter, contract, "report", answer, observed_at).tx_hash
        else:
            # Twice the tip: in the block that also carries the mints it covers, it comes first.
            data = self.chain.encode_call(contract, "report", answer, observed_at)
            tx_hash = self.chain.send(
                self.reporter, contract.address, data, gas=120_000, gas_price=2 * self.chain.gas_price
            )
        self._last_report = tx_hash
        return tx_hash

    def report_bank_reserve(self, force: bool = False, wait: bool = True) -> None:
        if self.bank is None:
            return
        token = self.tokens["KGST"]
        # Read and sent under one lock: a report read from an older balance never goes out after
        # one read from a newer balance (the mints that one covers would revert behind it).
        with self._report_lock:
            balance = self.bank.balance(self.reserve_account("KGST"))
            current = self._feed_answer(token, "reserve")
            if force or current != balance:
                self._report(token, "reserve", balance, self._chain_time(), wait=wait)

    def report_gold(self) -> None:
        if self.custodian is None:
            return
        token = self.tokens["USDKG"]
        try:
            attestation = self.custodian.latest_attestation("USDKG")
        except ValidationError as e:
            log.error("attestation not reported: malformed attestation: %s", e)
            return
        problem = self.attestation_problem(attestation, "USDKG")
        if problem:
            log.error("attestation %s not reported: %s", attestation.id, problem)
            return
        price = self.custodian.price()
        for feed, answer, as_of in (
            ("ounces", attestation.total_fine_oz_milli, attestation.as_of),
            ("price", price.price_e8, price.as_of),
        ):
            state = self._feed_state(token, feed)
            # Report what is newer than the feed (or differs at the same time); never go back in time.
            if state is None or as_of > state[1] or (as_of == state[1] and answer != state[0]):
                self._report(token, feed, answer, as_of)

    def attestation_problem(self, attestation: AttestationOut, pool: str) -> str | None:
        """Why an attestation of `pool` must not be reported, or None. Only what was signed
        counts: the fields reported must be exactly the ones the signed message states, and the
        message must be signed by the custodian's key (when one is configured)."""
        if attestation.pool != pool:
            return f"it attests pool {attestation.pool!r}, not {pool!r}"
        signed = attestation_message(
            attestation.pool, attestation.total_fine_oz_milli, attestation.bar_count, attestation.as_of
        )
        if attestation.message != signed:
            return f"its fields differ from its signed message {attestation.message!r}"
        if self.custodian_signer:
            signer = Account.recover_message(
                encode_defunct(text=attestation.message), signature=attestation.signature
            )
            if signer.lower() != self.custodian_signer.lower():
                return f"signed by {signer}, not the custodian {self.custodian_signer}"
        return None

    def report_all(self) -> None:
        for report in (self.report_bank_reserve, self.report_gold, self.sync_bank_statement):
            try:
                report()
            except (ApiError, RpcError, Reverted, OSError) as e:
                log.warning("%s failed: %s", report.__name__, e)

    # ---- redemptions -> payouts ---------------------------------------------------------------

    def scan_redemptions(self) -> int:
        """Record the `Redeemed` events of final blocks, following the chain by number and
        parent hash: each block read must name the last one scanned as its parent, and each log
        must carry the hash of the header read, else the scan waits for the next tick. Only
        final blocks are scanned, so a payout never rests on a block a reorg can take away."""
        rpc = self.chain.rpc
        final = final_height(rpc, self.confirmations)
        with self.db.read() as session:
            last = session.scalar(select(ScannedBlock).order_by(ScannedBlock.number.desc()).limit(1))
            anchor = None if last is None else Header(last.number, last.hash, last.parent_hash)
        start = 0 if anchor is None else anchor.number + 1
        if final < start:
            # Nothing new is final; a reorg to the same height would still replace our last block.
            if anchor is not None and first_divergence(rpc, [anchor]) is not None:
                self._unwind_scan()
            return 0
        end = min(final, start + SCAN_BLOCKS_PER_TICK - 1)
        headers = read_headers(rpc, start, end)
        if not headers:
            return 0  # the chain moved while it was read: next tick
        if anchor is not None and headers[0].parent_hash != anchor.hash:
            self._unwind_scan()
            return 0
        by_number = {h.number: h for h in headers}
        by_address = {t.address.lower(): sym for sym, t in self.tokens.items()}
        logs = rpc.call(
            "eth_getLogs",
            {
                "fromBlock": hex(start),
                "toBlock": hex(end),
                "address": list(by_address),
                "topics": [topic("Redeemed")],
            },
        )
        redeemed = [e for e in map(decode_log, logs) if e is not None and e.name == "Redeemed"]
        if any(e.block_hash != by_number[e.block_number].hash for e in redeemed):
            return 0  # logs of another branch than the headers read: next tick
        with self.db.transaction() as session:
            found = self._record_redemptions(
                session, [(by_address[event.address.lower()], event) for event in redeemed]
            )
            for h in headers:
                session.add(ScannedBlock(number=h.number, hash=h.hash, parent_hash=h.parent_hash))
            session.execute(delete(ScannedBlock).where(ScannedBlock.number < end - SCANNED_BLOCKS_KEPT))
        return found

    def _record_redemptions(self, session: Session, events: list[tuple[str, DecodedLog]]) -> int:
        """Record `Redeemed` events (token symbol, event) of a scanned range; answers how many are
        new or pending again. The rows already known are read with one SELECT (a rescan, or a
        transaction re-included after a reorg: a `reorged` one is pending again)."""
        hashes = list({event.tx_hash for _, event in events})
        known: dict[tuple[str, int], Redemption] = {}
        for i in range(0, len(hashes), IN_CHUNK):
            query = select(Redemption).where(Redemption.tx_hash.in_(hashes[i : i + IN_CHUNK]))
            known.update({(r.tx_hash, r.log_index): r for r in session.scalars(query)})
        return sum(
            self._record_redemption(session, symbol, event, known.get((event.tx_hash, event.log_index)))
            for symbol, event in events
        )

    def _record_redemption(
        self, session: Session, symbol: str, event: DecodedLog, existing: Redemption | None
    ) -> int:
        if existing is not None:
            revived = existing.status == RedemptionStatus.REORGED  # the same transaction, included again
            if revived:
                existing.status, existing.reason = RedemptionStatus.PENDING, None
            existing.block_number, existing.block_hash = event.block_number, event.block_hash
            return int(revived)
        amount: int = event.args["amount"]
        ref = event.args["payoutRef"].rstrip(b"\0").decode("ascii", errors="replace")
        session.add(
            Redemption(
                token=symbol,
                tx_hash=event.tx_hash,
                log_index=event.log_index,
                block_number=event.block_number,
                block_hash=event.block_hash,
                redemption_id=event.args["redemptionId"],
                holder=event.args["holder"],
                amount=str(amount),
                payout_ref=ref,
                payout_amount=self.tokens[symbol].info.to_minor(amount),
                status=RedemptionStatus.PENDING,
            )
        )
        return 1

    def _unwind_scan(self) -> None:
        """A block the scanner took as final left the chain: only possible where finality is
        N confirmations and a deeper reorg came. Forget the blocks from the fork on; their
        unpaid redemptions are void (found again if re-included); a paid one is an error that
        reconciliation reports."""
        with self.db.transaction() as session:
            stored = [Header(b.number, b.hash, b.parent_hash) for b in session.scalars(select(ScannedBlock))]
        fork = first_divergence(self.chain.rpc, stored)
        if fork is None:  # the tip moved meanwhile; nothing we stored changed
            return
        with self.db.transaction() as session:
            session.execute(delete(ScannedBlock).where(ScannedBlock.number >= fork))
            for r in session.scalars(select(Redemption).where(Redemption.block_number >= fork)):
                if r.status == RedemptionStatus.PENDING:
                    r.status, r.reason = (
                        RedemptionStatus.REORGED,
                        f"block {r.block_number} was reorganised away before payout",
                    )
                elif r.status == RedemptionStatus.PAID:
                    log.error(
                        "redemption %s was paid, then its block %d left the chain: finality (%s) too shallow",
                        r.tx_hash,
                        r.block_number,
                        "finalized tag"
                        if self.confirmations is None
                        else f"{self.confirmations} confirmations",
                    )
        log.warning("reorg below the scanned blocks: rescanning from block %d", fork)

    def pay_redemptions(self) -> int:
        """Pay the pending redemptions: one bulk credit transfer (pain.001) a tick, each payout
        in it under its own idempotency key (one per on-chain event), so a bulk sent again after
        a crash, or regrouped, replays each payout instead of paying it twice. The outcomes are
        written in one transaction. A payout the bank could not settle for now (a 5xx, or the
        bank down) stays pending for the next tick."""
        if self.bank is None:
            return 0
        with self.db.read() as session:
            pending = session.execute(
                select(
                    Redemption.id,
                    Redemption.token,
                    Redemption.tx_hash,
                    Redemption.log_index,
                    Redemption.redemption_id,
                    Redemption.payout_ref,
                    Redemption.payout_amount,
                    Redemption.holder,
                )
                .where(Redemption.status == RedemptionStatus.PENDING)
                .order_by(Redemption.id)
            ).all()
        #: redemption id -> (status, reason, bank payment id)
        outcomes: dict[int, tuple[str, str | None, str | None]] = {}
        payouts: list[tuple[int, BulkPayment]] = []
        for rid, token, tx_hash, log_index, redemption_id, ref, amount, holder in pending:
            problem = account_number_problem(ref)
            if problem:
                outcomes[rid] = (RedemptionStatus.FAILED, f"payout reference {ref!r}: {problem}", None)
                continue
            if amount == 0:
                outcomes[rid] = (RedemptionStatus.FAILED, "amount below one minor unit", None)
                continue
            try:
                payout = BulkPayment(
                    idempotency_key=f"redeem:{tx_hash}:{log_index}",
                    end_to_end_id=f"RDM-{token}-{redemption_id}",
                    debtor=Party(account=self.reserve_account(token), name=self.issuer_name),
                    creditor=Party(account=ref, name=f"token holder {holder}"),
                    amount=amount,
                    currency=CURRENCY[token],
                    remittance_info=f"redemption {tx_hash}",
                )
            except ValidationError as e:  # what the bank would refuse: refused here, the same way
                outcomes[rid] = (RedemptionStatus.FAILED, f"payout refused: {e.errors()[0]['msg']}", None)
                continue
            payouts.append((rid, payout))
        for start in range(0, len(payouts), BULK_MAX):
            chunk = payouts[start : start + BULK_MAX]
            try:
                report = self.bank.pay_bulk([payout for _, payout in chunk])
            except ApiError as e:  # the bank down (5xx), or the bulk refused as a whole: next tick
                log.log(logging.WARNING if e.status >= 500 else logging.ERROR, "bulk payout: %s", e)
                break
            for (rid, _), result in zip(chunk, report.results, strict=True):
                if result.payment is not None:
                    outcomes[rid] = (RedemptionStatus.PAID, None, result.payment.id)
                elif result.status < 500:
                    refused = ApiError(result.status, dict(result.problem or {}))
                    outcomes[rid] = (RedemptionStatus.FAILED, str(refused), None)
        if outcomes:
            with self.db.transaction() as session:
                for r in session.scalars(select(Redemption).where(Redemption.id.in_(list(outcomes)))):
                    r.status, r.reason, r.bank_payment_id = outcomes[r.id]
        return sum(status == RedemptionStatus.PAID for status, _, _ in outcomes.values())

    def redemptions_tick(self) -> None:
        self.scan_redemptions()
        self.pay_redemptions()
