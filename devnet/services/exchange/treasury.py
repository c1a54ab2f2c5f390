"""The treasury worker: everything the exchange sends on chain: withdrawals from the hot wallet,
sweeps from deposit addresses to the hot wallet (with a BNB top-up for their gas), and the hot
wallet's own BNB top-ups from the gas funder.

Crash safety: every transaction is signed with an explicit nonce and stored (raw bytes, hash,
nonce) in the same commit that links it to its withdrawal or sweep, *before* it is broadcast.
Each tick then looks every unfinished transaction up: a receipt finishes it; a stored one the
node does not know is broadcast again, byte for byte (same nonce: it can be mined at most
once). Only when a final block has spent its nonce on another transaction (and it has no
receipt) is it marked dropped and its withdrawal signed anew. So a SIGKILL at any point never
sends a withdrawal twice.

Finality: a transaction in a block is `included`; its withdrawal or sweep completes (or fails,
on a revert) only when that block is final (the node's `finalized` block, or
`finality_confirmations`). A reorg that takes an included transaction out sends it back to
`sent`, and it is broadcast again, byte for byte: paid once, and user balances untouched.

Nonces: the treasury is the only sender for the hot wallet, the deposit addresses and the
funder, one thread, so the next nonce is max(node's pending count, highest unfinished stored
nonce + 1).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devnet.core.chain import Reverted
from devnet.core.chainfollow import final_height, final_nonce
from devnet.core.rpc import TX_INDEXING, RpcError
from devnet.core.signing import SignedTx
from devnet.core.wallets import Wallet
from devnet.services.common.db import short_id, utcnow
from devnet.services.common.webhooks import emit
from devnet.services.exchange import ledger
from devnet.services.exchange.api import (
    ExchangeEvent,
    SweepOut,
    SweepSkipped,
    SweepStatus,
    WithdrawalStatus,
)
from devnet.services.exchange.core import ExchangeCore, as_json, withdrawal_out
from devnet.services.exchange.erc20 import CallFailed, balance_of, calldata, parse_transfer
from devnet.services.exchange.models import ChainTx, ChainTxStatus, DepositAddress, Network, Sweep, Withdrawal

log = logging.getLogger("devnet.exchange.treasury")
UNFINISHED = (ChainTxStatus.SIGNED, ChainTxStatus.SENT, ChainTxStatus.INCLUDED)
SWEEP_ACTIVE = (
    SweepStatus.QUEUED,
    SweepStatus.GAS_PENDING,
    SweepStatus.GAS_FUNDED,
    SweepStatus.TRANSFER_PENDING,
)
PLAIN_TRANSFER_GAS = 21_000
BATCH = 20


def _data(hex_data: str) -> bytes:
    return bytes.fromhex(hex_data.removeprefix("0x"))


class Treasury:
    def __init__(self, core: ExchangeCore):
        self.core = core
        self.db = core.db
        self.chain = core.chain
        self.rpc = core.rpc
        self.settings = core.settings
        self.confirmations = core.settings.finality_confirmations
        self._last_auto_sweep = 0.0

    def tick(self) -> None:
        self._track()
        self._fund_hot_wallet()
        self._withdrawals()
        if (
            self.settings.auto_sweep_interval_s
            and time.monotonic() - self._last_auto_sweep > self.settings.auto_sweep_interval_s
        ):
            self._last_auto_sweep = time.monotonic()
            candidates, _ = self.sweep_candidates(None)
            if candidates:
                with self.db.transaction() as session:
                    self.create_sweeps(session, candidates)
        self._sweeps()

    # ---- signing, storing, broadcasting ------------------------------------------------------

    def _next_nonce(self, sender: str) -> int:
        node = int(self.rpc.call("eth_getTransactionCount", sender, "pending"), 16)
        with self.db.transaction() as session:
            stored = session.scalar(
                select(func.max(ChainTx.nonce)).where(
                    ChainTx.sender == sender, ChainTx.status.in_(UNFINISHED)
                )
            )
        return node if stored is None else max(node, int(stored) + 1)

    def _sign(
        self, account: LocalAccount, to: str, data: bytes, *, value: int, gas: int
    ) -> tuple[int, SignedTx]:
        nonce = self._next_nonce(account.address)
        signed = self.chain.sign(Wallet.of(account), to, data, value=value, gas=gas, nonce=nonce)
        return nonce, signed

    @staticmethod
    def _store(
        session: Session,
        purpose: str,
        ref: str,
        sender: str,
        to: str,
        nonce: int,
        signed: SignedTx,
        *,
        value: int,
        gas: int,
    ) -> ChainTx:
        tx = ChainTx(
            purpose=purpose,
            ref=ref,
            sender=sender,
            to=to,
            nonce=nonce,
            value_wei=value,
            gas=gas,
            raw=signed.raw_hex,
            hash=signed.hash_hex,
            status=ChainTxStatus.SIGNED,
        )
        session.add(tx)
        session.flush()
        return tx

    def _broadcast(self, tx_id: int) -> None:
        with self.db.transaction() as session:
            tx = session.get(ChainTx, tx_id)
            if tx is None or tx.status not in UNFINISHED:
                return
            raw, tx_hash, sender, nonce = tx.raw, tx.hash, tx.sender, tx.nonce
        try:
            self.rpc.call("eth_sendRawTransaction", raw)
        except RpcError as e:
            message = e.message.lower()
            if "already known" in message or "already imported" in message or "known transaction" in message:
                pass
            elif "nonce too low" in message or "nonce is too low" in message:
                receipt = self.rpc.receipt(tx_hash)
                if receipt is not None:
                    self._seen(tx_id, receipt)
                elif final_nonce(self.rpc, sender, self.confirmations) > nonce:
                    self._dropped(tx_id, e.message)
                return  # else the nonce is used in a block that is not final yet: wait and see
            else:
                log.warning("broadcast of %s failed (retrying): %s", tx_hash, e.message)
                with self.db.transaction() as session:
                    row = session.get(ChainTx, tx_id)
                    if row is not None:
                        row.error = e.message
                return
        except httpx.HTTPError as e:
            log.warning("broadcast of %s failed (retrying): %s", tx_hash, e)
            return
        with self.db.transaction() as session:
            row = session.get(ChainTx, tx_id)
            if row is not None and row.status == ChainTxStatus.SIGNED:
                row.status = ChainTxStatus.SENT

    def _track(self) -> None:
        """Follow every unfinished transaction to a final block; re-broadcast (same bytes) what
        the node does not know, including what a reorg took out of the chain."""
        with self.db.transaction() as session:
            txs = [
                (t.id, t.hash, t.status)
                for t in session.scalars(
                    select(ChainTx).where(ChainTx.status.in_(UNFINISHED)).order_by(ChainTx.id)
                )
            ]
        if not txs:
            return
        receipts = self.rpc.batch([("eth_getTransactionReceipt", [tx_hash]) for _, tx_hash, _ in txs])
        for (tx_id, tx_hash, status), receipt in zip(txs, receipts, strict=True):
            if isinstance(receipt, RpcError):
                if TX_INDEXING not in receipt.message:
                    raise receipt
                receipt = None
            if receipt is not None:
                self._seen(tx_id, receipt)
                continue
            if status == ChainTxStatus.INCLUDED:
                log.warning("transaction %s left the chain in a reorg: sending it again", tx_hash)
                with self.db.transaction() as session:
                    row = session.get(ChainTx, tx_id)
                    if row is not None and row.status == ChainTxStatus.INCLUDED:
                        row.status, row.block_number, row.block_hash = ChainTxStatus.SENT, None, None
                status = ChainTxStatus.SENT
            if status == ChainTxStatus.SIGNED or not self.chain.known(tx_hash):
                self._broadcast(tx_id)

    def _seen(self, tx_id: int, receipt: dict[str, Any]) -> None:
        """A receipt: final, the transaction is done; not yet, it is `included` (in this block)."""
        block, block_hash = int(receipt["blockNumber"], 16), str(receipt["blockHash"]).lower()
        if block <= final_height(self.rpc, self.confirmations):
            self._finish(tx_id, receipt)
            return
        with self.db.transaction() as session:
            tx = session.get(ChainTx, tx_id)
            if tx is not None and tx.status in UNFINISHED:
                tx.status, tx.block_number, tx.block_hash = ChainTxStatus.INCLUDED, block, block_hash

    def _finish(self, tx_id: int, receipt: dict[str, Any]) -> None:
        ok = receipt.get("status") == "0x1"
        tx_hash = str(receipt["transactionHash"]).lower()
        reason = None if ok else self.chain.revert_reason(tx_hash, receipt)
        block = int(receipt["blockNumber"], 16)
        with self.db.transaction() as session:
            tx = session.get(ChainTx, tx_id)
            if tx is None or tx.status not in UNFINISHED:
                return
            tx.status = ChainTxStatus.MINED if ok else ChainTxStatus.REVERTED
            tx.block_number = block
            tx.block_hash = str(receipt["blockHash"]).lower()
            tx.error = reason
            if tx.purpose == "withdrawal":
                w = session.get(Withdrawal, tx.ref)
                if w is not None and w.status == WithdrawalStatus.PROCESSING and w.chain_tx_id == tx.id:
                    if ok:
                        w.status = WithdrawalStatus.COMPLETED
                        w.block_number = block
                        w.finished_at = utcnow()
                        emit(session, ExchangeEvent.WITHDRAWAL_COMPLETED, as_json(withdrawal_out(w)))
                    else:
                        self._fail_withdrawal(session, w, reason or "reverted")
            elif tx.purpose == "sweep_gas":
                s = session.get(Sweep, tx.ref)
                if s is not None and s.status == SweepStatus.GAS_PENDING and s.gas_tx_id == tx.id:
                    if ok:
                        s.status = SweepStatus.GAS_FUNDED
                    else:
                        self._fail_sweep(session, s, f"gas top-up reverted: {reason}")
            elif tx.purpose == "sweep_token":
                s = session.get(Sweep, tx.ref)
                if s is not None and s.status == SweepStatus.TRANSFER_PENDING and s.token_tx_id == tx.id:
                    if ok:
                        received = 0
                        for raw_log in receipt.get("logs", []):
                            t = parse_transfer(raw_log)
                            if t and t.sender == s.address and t.recipient == self.core.hot.address:
                                received += t.value
                        s.received = received
                        s.status = SweepStatus.COMPLETED
                        s.finished_at = utcnow()
                        emit(
                            session,
                            ExchangeEvent.SWEEP_COMPLETED,
                            as_json(SweepOut.model_validate(s, from_attributes=True)),
                        )
                    else:
                        self._fail_sweep(session, s, reason or "reverted")
        self.core.ctx.dispatcher.poke()

    def _dropped(self, tx_id: int, why: str) -> None:
        """The nonce went to another transaction and this one has no receipt: it can never be
        mined, so its withdrawal or sweep step is signed anew."""
        with self.db.transaction() as session:
            tx = session.get(ChainTx, tx_id)
            if tx is None or tx.status not in UNFINISHED:
                return
            tx.status = ChainTxStatus.DROPPED
            tx.error = why
            log.warning("transaction %s (%s %s) dropped: %s", tx.hash, tx.purpose, tx.ref, why)
            if tx.purpose == "withdrawal":
                w = session.get(Withdrawal, tx.ref)
                if w is not None and w.status == WithdrawalStatus.PROCESSING and w.chain_tx_id == tx.id:
                    w.chain_tx_id = None
                    w.tx_hash = None
            elif tx.purpose == "sweep_gas":
                s = session.get(Sweep, tx.ref)
                if s is not None and s.gas_tx_id == tx.id and s.status == SweepStatus.GAS_PENDING:
                    s.status = SweepStatus.QUEUED
                    s.gas_tx_id = None
            elif tx.purpose == "sweep_token":
                s = session.get(Sweep, tx.ref)
                if s is not None and s.token_tx_id == tx.id and s.status == SweepStatus.TRANSFER_PENDING:
                    s.status = SweepStatus.GAS_FUNDED
                    s.token_tx_id = None

    # ---- hot wallet gas ----------------------------------------------------------------------

    def _fund_hot_wallet(self) -> None:
        funder = self.core.funder
        hot = self.core.hot.address
        if funder is None or funder.address == hot or self.settings.hot_wallet_topup_wei == 0:
            return
        with self.db.transaction() as session:
            inflight = session.scalar(
                select(func.count())
                .select_from(ChainTx)
                .where(ChainTx.purpose == "hot_wallet_gas", ChainTx.status.in_(UNFINISHED))
            )
        if inflight or self.chain.balance(hot) >= self.settings.hot_wallet_min_bnb_wei:
            return
        value = self.settings.hot_wallet_topup_wei
        nonce, signed = self._sign(funder, hot, b"", value=value, gas=PLAIN_TRANSFER_GAS)
        with self.db.transaction() as session:
            tx = self._store(
                session,
                "hot_wallet_gas",
                "hot",
                funder.address,
                hot,
                nonce,
                signed,
                value=value,
                gas=PLAIN_TRANSFER_GAS,
            )
            tx_id = tx.id
        log.info("topping the hot wallet up with %d wei from %s", value, funder.address)
        self._broadcast(tx_id)

    # ---- withdrawals -------------------------------------------------------------------------

    def _fail_withdrawal(self, session: Session, w: Withdrawal, reason: str) -> None:
        w.status = WithdrawalStatus.FAILED
        w.failure_reason = reason
        w.finished_at = utcnow()
        ledger.post(session, w.user_id, w.token, "withdrawal.failed", w.id, available=w.amount)
        emit(session, ExchangeEvent.WITHDRAWAL_FAILED, as_json(withdrawal_out(w)))

    def _fail_withdrawal_by_id(self, withdrawal_id: str, reason: str) -> None:
        with self.db.transaction() as session:
            w = session.get(Withdrawal, withdrawal_id)
            if w is not None and w.status == WithdrawalStatus.PROCESSING and w.chain_tx_id is None:
                log.info("withdrawal %s failed: %s", withdrawal_id, reason)
                self._fail_withdrawal(session, w, reason)
        self.core.ctx.dispatcher.poke()

    def _withdrawals(self) -> None:
        with self.db.transaction() as session:
            tokens = {n.symbol: n.contract_address for n in session.scalars(select(Network))}
            todo = [
                (w.id, w.token, w.address, w.amount - w.fee)
                for w in session.scalars(
                    select(Withdrawal)
                    .where(Withdrawal.status == WithdrawalStatus.PROCESSING, Withdrawal.chain_tx_id.is_(None))
                    .order_by(Withdrawal.created_at)
                    .limit(BATCH)
                )
            ]
        hot = self.core.hot
        for withdrawal_id, symbol, to, value in todo:
            token = tokens[symbol]
            data = _data(calldata("transfer(address,uint256)", to, value))
            try:
                gas = self.chain.estimate_gas(hot.address, token, data)
            except Reverted as e:
                self._fail_withdrawal_by_id(withdrawal_id, e.reason)
                continue
            need = gas * self.chain.gas_price
            if self.chain.balance(hot.address) < need:
                if self.core.funder is not None:
                    continue  # the funder's top-up is on its way
                self._fail_withdrawal_by_id(
                    withdrawal_id, f"hot wallet {hot.address} lacks BNB for gas ({need} wei)"
                )
                continue
            nonce, signed = self._sign(hot, token, data, value=0, gas=gas)
            with self.db.transaction() as session:
                w = session.get(Withdrawal, withdrawal_id)
                if w is None or w.status != WithdrawalStatus.PROCESSING or w.chain_tx_id is not None:
                    continue
                tx = self._store(
                    session, "withdrawal", w.id, hot.address, token, nonce, signed, value=0, gas=gas
                )
                w.chain_tx_id = tx.id
                w.tx_hash = signed.hash_hex
                tx_id = tx.id
            self.core.crash("withdrawal.signed")
            self._broadcast(tx_id)

    # ---- sweeps ------------------------------------------------------------------------------

    def sweep_candidates(self, token: str | None) -> tuple[list[tuple[str, str, int]], list[SweepSkipped]]:
        """(address, token, balance) of deposit addresses holding tokens, and what is skipped."""
        with self.db.transaction() as session:
            nets = {n.symbol: (n.contract_address, n.paused) for n in session.scalars(select(Network))}
            addresses = [
                (a.address, a.token)
                for a in session.scalars(select(DepositAddress).order_by(DepositAddress.hd_index))
            ]
            active = {
                (s.address, s.token)
                for s in session.scalars(select(Sweep).where(Sweep.status.in_(SWEEP_ACTIVE)))
            }
        candidates: list[tuple[str, str, int]] = []
        skipped: list[SweepSkipped] = []
        for address, symbol in addresses:
            if (token is not None and symbol != token) or symbol not in nets:
                continue
            contract, paused = nets[symbol]
            if (address, symbol) in active:
                skipped.append(
                    SweepSkipped(address=address, token=symbol, reason="a sweep is already in progress")
                )
                continue
            if paused:
                skipped.append(SweepSkipped(address=address, token=symbol, reason="token paused"))
                continue
            try:
                balance = balance_of(self.rpc, contract, address)
            except CallFailed as e:
                skipped.append(
                    SweepSkipped(address=address, token=symbol, reason=f"balanceOf failed: {e.reason}")
                )
                continue
            if balance > 0:
                candidates.append((address, symbol, balance))
        return candidates, skipped

    def create_sweeps(self, session: Session, candidates: list[tuple[str, str, int]]) -> list[Sweep]:
        active = {
            (s.address, s.token) for s in session.scalars(select(Sweep).where(Sweep.status.in_(SWEEP_ACTIVE)))
        }
        created = []
        for address, symbol, _balance in candidates:
            if (address, symbol) in active:
                continue
            sweep = Sweep(id=short_id("swp"), token=symbol, address=address, status=SweepStatus.QUEUED)
            session.add(sweep)
            created.append(sweep)
        session.flush()
        if created:
            self.core.wake_treasury()
        return created

    def _fail_sweep(self, session: Session, s: Sweep, reason: str) -> None:
        log.info("sweep %s failed: %s", s.id, reason)
        s.status = SweepStatus.FAILED
        s.failure_reason = reason
        s.finished_at = utcnow()
        emit(session, ExchangeEvent.SWEEP_FAILED, as_json(SweepOut.model_validate(s, from_attributes=True)))

    def _fail_sweep_by_id(self, sweep_id: str, reason: str) -> None:
        with self.db.transaction() as session:
            s = session.get(Sweep, sweep_id)
            if s is not None and s.status in (SweepStatus.QUEUED, SweepStatus.GAS_FUNDED):
                self._fail_sweep(session, s, reason)
        self.core.ctx.dispatcher.poke()

    def _sweeps(self) -> None:
        with self.db.transaction() as session:
            nets = {n.symbol: n.contract_address for n in session.scalars(select(Network))}
            todo = []
            for queued in session.scalars(
                select(Sweep)
                .where(Sweep.status.in_((SweepStatus.QUEUED, SweepStatus.GAS_FUNDED)))
                .order_by(Sweep.created_at)
                .limit(BATCH)
            ):
                da = session.get(DepositAddress, queued.address)
                if da is not None:
                    todo.append((queued.id, queued.token, queued.address, da.hd_index))
        hot = self.core.hot.address
        price = self.chain.gas_price
        for sweep_id, symbol, address, index in todo:
            contract = nets[symbol]  # a pause shows as the estimate's revert reason below
            amount = balance_of(self.rpc, contract, address)
            if amount == 0:
                self._fail_sweep_by_id(sweep_id, "nothing to sweep: balance 0")
                continue
            data = _data(calldata("transfer(address,uint256)", hot, amount))
            try:
                gas = self.chain.estimate_gas(address, contract, data)
            except Reverted as e:
                self._fail_sweep_by_id(sweep_id, e.reason)
                continue
            need = gas * price
            have = self.chain.balance(address)
            if have < need:
                payer = self.core.gas_payer()
                topup = need - have
                if self.chain.balance(payer.address) < topup + PLAIN_TRANSFER_GAS * price:
                    self._fail_sweep_by_id(
                        sweep_id, f"gas payer {payer.address} lacks BNB for a {topup} wei top-up"
                    )
                    continue
                nonce, signed = self._sign(payer, address, b"", value=topup, gas=PLAIN_TRANSFER_GAS)
                with self.db.transaction() as session:
                    s = session.get(Sweep, sweep_id)
                    if s is None or s.status not in (SweepStatus.QUEUED, SweepStatus.GAS_FUNDED):
                        continue
                    tx = self._store(
                        session,
                        "sweep_gas",
                        s.id,
                        payer.address,
                        address,
                        nonce,
                        signed,
                        value=topup,
                        gas=PLAIN_TRANSFER_GAS,
                    )
                    s.status = SweepStatus.GAS_PENDING
                    s.gas_tx_id = tx.id
                    s.gas_tx_hash = signed.hash_hex
                    s.gas_topup_wei = (s.gas_topup_wei or 0) + topup
                    tx_id = tx.id
                self._broadcast(tx_id)
                continue
            account = self.core.deposit_account(index)
            nonce, signed = self._sign(account, contract, data, value=0, gas=gas)
            with self.db.transaction() as session:
                s = session.get(Sweep, sweep_id)
                if s is None or s.status not in (SweepStatus.QUEUED, SweepStatus.GAS_FUNDED):
                    continue
                tx = self._store(
                    session, "sweep_token", s.id, address, contract, nonce, signed, value=0, gas=gas
                )
                s.status = SweepStatus.TRANSFER_PENDING
                s.amount = amount
                s.token_tx_id = tx.id
                s.tx_hash = signed.hash_hex
                tx_id = tx.id
            self._broadcast(tx_id)
