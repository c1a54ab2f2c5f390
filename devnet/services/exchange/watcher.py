"""The chain watcher: follows new blocks, records Transfer logs to deposit addresses, credits
them after minConfirm, unlocks them after unLockConfirm, and undoes what reorgs took away.

Every tick:

1. reads each listed token's pause and the hot wallet's blacklisting (GET /networks status);
2. reads the node's block at the last processed height: if its hash is the one processed,
   no block below changed either (each hash commits to its parent); otherwise it re-reads the
   hashes of the last `window` processed blocks (window = max(reorg_window,
   max unLockConfirm + 1)); at the lowest block whose hash changed (or that is gone), it
   reverses every deposit from there on (a credited one leaves `locked`, an unlocked one
   leaves `available`, even below zero: the exchange's loss, logged), forgets those blocks
   and rescans them;
3. scans the next blocks (at most max_blocks_per_tick): their headers, checked to link onto
   the last processed block, then one eth_getLogs for Transfer of every listed token; each
   log must carry the hash of the header read, else the tick stops (a reorg in flight); only
   the logs to or from a deposit address are decoded;
4. counts confirmations against the last processed block (the deposit's own block is the
   first) and moves deposits pending -> credited -> unlocked.

The deposits of a scanned range, the range's block hashes and the new cursor are committed
in one transaction, and a deposit is unique by (chain id, tx hash, log index): a rescan or a
restart after SIGKILL finds the row and credits nothing twice.

Amount credited (fee-on-transfer tokens): per (token, deposit address, block), the balance
change over the block is balanceOf(block) - balanceOf(block - 1) plus what Transfer logs took
out of the address in that block. When it covers the logs' values, each deposit is credited
its value; when it is smaller (the token kept a fee but logged the full value), the deposits
of that group are credited pro rata to the balance change. When historical state is not
available, the log value is credited.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from devnet.services.common.db import short_id, utcnow
from devnet.services.common.webhooks import emit
from devnet.services.exchange import ledger
from devnet.services.exchange.api import DepositReversed, DepositStatus, ExchangeEvent
from devnet.services.exchange.core import ExchangeCore, as_json, deposit_out
from devnet.services.exchange.erc20 import (
    TRANSFER_TOPIC,
    CallFailed,
    TransferLog,
    balance_of,
    get_logs,
    parse_transfer,
    touches,
)
from devnet.services.exchange.models import Deposit, DepositAddress, Network, ProcessedBlock
from devnet.services.exchange.settings import NetworkConfig

log = logging.getLogger("devnet.exchange.watcher")
LAST_BLOCK = "last_block"


class Watcher:
    def __init__(self, core: ExchangeCore):
        self.core = core
        self.db = core.db
        self.rpc = core.rpc
        self.settings = core.settings
        #: ticks completed, for tests and /info
        self.ticks = 0

    # ---- one tick --------------------------------------------------------------------------

    def tick(self) -> None:
        self.core.refresh_network_state()
        head = self.core.chain.block_number()
        with self.db.transaction() as session:
            last = self.core.cursor(session, LAST_BLOCK)
            if last is None:
                start = self.settings.start_block
                last = head if start is None else start - 1
                self.core.set_cursor(session, LAST_BLOCK, last)
                log.info("watching from block %d", last + 1)
        self._check_reorg()
        self._scan(head)
        self._confirm()
        self.ticks += 1

    def _configs(self) -> dict[str, NetworkConfig]:
        with self.db.transaction() as session:
            return {
                n.symbol: NetworkConfig.model_validate(n.config) for n in session.scalars(select(Network))
            }

    def window(self, configs: dict[str, NetworkConfig]) -> int:
        unlock = max((c.unlock_confirm for c in configs.values()), default=0)
        return max(self.settings.reorg_window, unlock + 1)

    # ---- reorgs ----------------------------------------------------------------------------

    def _check_reorg(self) -> None:
        window = self.window(self._configs())
        with self.db.transaction() as session:
            last = self.core.cursor(session, LAST_BLOCK)
            if last is None:
                return
            stored = [
                (b.number, b.hash)
                for b in session.scalars(
                    select(ProcessedBlock)
                    .where(ProcessedBlock.number > last - window)
                    .order_by(ProcessedBlock.number)
                )
            ]
        if not stored:
            return
        # A block's hash commits to every block before it: while the node's block at our last
        # processed height is the one we processed, nothing below it changed either (one
        # header read per tick instead of the whole window's).
        last_number, last_hash = stored[-1]
        current = self.rpc.call("eth_getBlockByNumber", hex(last_number), False)
        if current is not None and str(current["hash"]).lower() == last_hash:
            return
        remote = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n, _ in stored])
        fork: int | None = None
        for (number, known_hash), block in zip(stored, remote, strict=True):
            if isinstance(block, Exception):
                raise block
            if block is None or str(block["hash"]).lower() != known_hash:
                fork = number
                break
        if fork is not None:
            self._rollback(fork)

    def _rollback(self, fork: int) -> None:
        """Blocks from `fork` on were reorganised away: reverse their deposits, forget them."""
        with self.db.transaction() as session:
            deposits = list(
                session.scalars(
                    select(Deposit)
                    .where(
                        Deposit.block_number >= fork,
                        Deposit.status.in_(
                            (
                                DepositStatus.PENDING,
                                DepositStatus.CREDITED,
                                DepositStatus.UNLOCKED,
                                DepositStatus.DUST,
                            )
                        ),
                    )
                    .order_by(Deposit.block_number, Deposit.log_index)
                )
            )
            for d in deposits:
                prior = d.status
                if prior == DepositStatus.CREDITED:
                    ledger.post(session, d.user_id, d.token, "deposit.reversed", d.id, locked=-d.amount)
                elif prior == DepositStatus.UNLOCKED:
                    log.error(
                        "deposit %s was unlocked when its block %d was reorganised away", d.id, d.block_number
                    )
                    ledger.post(session, d.user_id, d.token, "deposit.reversed", d.id, available=-d.amount)
                d.status = DepositStatus.REVERSED
                d.reversed_at = utcnow()
                d.reversals += 1
                if prior != DepositStatus.DUST:
                    reversed_ = DepositReversed(
                        **deposit_out(d, None).model_dump(), previous_status=DepositStatus(prior)
                    )
                    emit(
                        session,
                        ExchangeEvent.DEPOSIT_REVERSED,
                        as_json(reversed_),
                    )
            session.execute(delete(ProcessedBlock).where(ProcessedBlock.number >= fork))
            self.core.set_cursor(session, LAST_BLOCK, fork - 1)
        log.warning("reorg: blocks from %d replaced; %d deposit(s) reversed; rescanning", fork, len(deposits))
        self.core.ctx.dispatcher.poke()

    def rewind(self, session: Session, from_block: int) -> None:
        """Scan again from `from_block`; recorded deposits are kept (and found again)."""
        session.execute(delete(ProcessedBlock).where(ProcessedBlock.number >= from_block))
        self.core.set_cursor(session, LAST_BLOCK, from_block - 1)
        log.info("rescanning from block %d", from_block)

    # ---- scanning --------------------------------------------------------------------------

    def _scan(self, head: int) -> None:
        with self.db.transaction() as session:
            last = self.core.cursor(session, LAST_BLOCK)
            assert last is not None
            anchor = session.get(ProcessedBlock, last)
            anchor_hash = anchor.hash if anchor else None
            addresses = {a.address: (a.user_id, a.token) for a in session.scalars(select(DepositAddress))}
            nets = {
                n.contract_address.lower(): (n.symbol, NetworkConfig.model_validate(n.config))
                for n in session.scalars(select(Network))
            }
        if last >= head:
            return
        start, end = last + 1, min(head, last + self.settings.max_blocks_per_tick)
        replies = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(start, end + 1)])
        blocks: dict[int, dict[str, Any]] = {}
        previous = anchor_hash
        for number, block in zip(range(start, end + 1), replies, strict=True):
            if isinstance(block, Exception) or block is None:
                return  # the head moved back under us: the next tick's reorg check sorts it out
            if previous is not None and str(block["parentHash"]).lower() != previous:
                log.info(
                    "block %d does not link onto block %d as processed: waiting for the reorg check",
                    number,
                    number - 1,
                )
                return
            previous = str(block["hash"]).lower()
            blocks[number] = block

        transfers: list[TransferLog] = []
        if nets:
            watched = {a.lower() for a in addresses}
            for raw in get_logs(self.rpc, list(nets), [TRANSFER_TOPIC], start, end):
                number = int(raw["blockNumber"], 16)
                if str(raw["blockHash"]).lower() != str(blocks[number]["hash"]).lower():
                    log.info("log of block %d from another fork: retrying next tick", number)
                    return
                # Only transfers to or from a deposit address count (credits, and what the
                # address sent on in the same block): the others are not decoded at all.
                if not touches(raw, watched):
                    continue
                parsed = parse_transfer(raw)
                if parsed is not None:
                    transfers.append(parsed)
        incoming = [
            t
            for t in transfers
            if t.recipient in addresses and addresses[t.recipient][1] == nets[t.token.lower()][0]
        ]
        amounts = self._credited_amounts(incoming, transfers)

        with self.db.transaction() as session:
            if self.core.cursor(session, LAST_BLOCK) != last:
                return  # rewound meanwhile (POST /admin/rescan): this range is stale
            for t in incoming:
                user_id, symbol = addresses[t.recipient]
                config = nets[t.token.lower()][1]
                self._record(session, t, user_id, symbol, amounts[(t.tx_hash, t.log_index)], config)
            for number, block in blocks.items():
                session.merge(
                    ProcessedBlock(
                        number=number,
                        hash=str(block["hash"]).lower(),
                        parent_hash=str(block["parentHash"]).lower(),
                    )
                )
            self.core.set_cursor(session, LAST_BLOCK, end)
            keep = 2 * self.window({sym: cfg for sym, cfg in nets.values()})
            session.execute(delete(ProcessedBlock).where(ProcessedBlock.number < end - keep))
        if incoming:
            self.core.ctx.dispatcher.poke()

    def _credited_amounts(
        self, incoming: list[TransferLog], transfers: list[TransferLog]
    ) -> dict[tuple[str, int], int]:
        groups: dict[tuple[str, str, int], list[TransferLog]] = defaultdict(list)
        for t in incoming:
            groups[(t.token, t.recipient, t.block_number)].append(t)
        out: dict[tuple[str, int], int] = {}
        for (token, address, block), logs in groups.items():
            total = sum(t.value for t in logs)
            sent_out = sum(
                t.value
                for t in transfers
                if t.token == token and t.sender == address and t.block_number == block
            )
            try:
                change = (
                    balance_of(self.rpc, token, address, block)
                    - balance_of(self.rpc, token, address, block - 1)
                    + sent_out
                )
            except CallFailed as e:
                log.warning(
                    "no balance at block %d for %s (%s): crediting log values", block, address, e.reason
                )
                change = total
            if change >= total or total == 0:
                for t in logs:
                    out[(t.tx_hash, t.log_index)] = t.value
                continue
            change = max(change, 0)
            log.warning(
                "%s: logs say %d to %s in block %d, its balance grew %d: crediting the balance change",
                token,
                total,
                address,
                block,
                change,
            )
            for t in logs:
                out[(t.tx_hash, t.log_index)] = t.value * change // total
        return out

    def _record(
        self, session: Session, t: TransferLog, user_id: str, symbol: str, amount: int, config: NetworkConfig
    ) -> None:
        existing = session.scalars(
            select(Deposit).where(
                Deposit.chain_id == self.core.chain_id,
                Deposit.tx_hash == t.tx_hash,
                Deposit.log_index == t.log_index,
            )
        ).first()
        status = DepositStatus.DUST if amount == 0 or amount < config.deposit_dust else DepositStatus.PENDING
        if existing is not None:
            if existing.status != DepositStatus.REVERSED:
                return  # seen before: a rescan never records (or credits) a deposit twice
            existing.block_number = t.block_number
            existing.block_hash = t.block_hash
            existing.value = t.value
            existing.amount = amount
            existing.status = status
            existing.credited_at = existing.unlocked_at = None
            deposit = existing
        else:
            deposit = Deposit(
                id=short_id("dep"),
                chain_id=self.core.chain_id,
                tx_hash=t.tx_hash,
                log_index=t.log_index,
                block_number=t.block_number,
                block_hash=t.block_hash,
                token=symbol,
                address=t.recipient,
                user_id=user_id,
                from_address=t.sender,
                value=t.value,
                amount=amount,
                status=status,
                reversals=0,
            )
            session.add(deposit)
            session.flush()
        if status == DepositStatus.PENDING:
            emit(
                session,
                ExchangeEvent.DEPOSIT_PENDING,
                as_json(deposit_out(deposit, t.block_number)),
            )
        else:
            log.info("dust deposit %s: %d < depositDust %d", deposit.id, amount, config.deposit_dust)

    # ---- confirmations ---------------------------------------------------------------------

    def _confirm(self) -> None:
        changed = False
        with self.db.transaction() as session:
            tip = self.core.cursor(session, LAST_BLOCK)
            if tip is None:
                return
            configs = {
                n.symbol: NetworkConfig.model_validate(n.config) for n in session.scalars(select(Network))
            }
            open_deposits = session.scalars(
                select(Deposit)
                .where(
                    Deposit.status.in_((DepositStatus.PENDING, DepositStatus.CREDITED)),
                    Deposit.block_number <= tip,
                )
                .order_by(Deposit.block_number, Deposit.log_index)
            )
            for d in open_deposits:
                config = configs.get(d.token)
                if config is None:
                    continue
                confirmations = tip - d.block_number + 1
                if d.status == DepositStatus.PENDING and confirmations >= config.min_confirm:
                    ledger.post(session, d.user_id, d.token, "deposit.credited", d.id, locked=d.amount)
                    d.status = DepositStatus.CREDITED
                    d.credited_at = utcnow()
                    emit(
                        session,
                        ExchangeEvent.DEPOSIT_CREDITED,
                        as_json(deposit_out(d, tip)),
                    )
                    changed = True
                if d.status == DepositStatus.CREDITED and confirmations >= config.unlock_confirm:
                    ledger.post(
                        session,
                        d.user_id,
                        d.token,
                        "deposit.unlocked",
                        d.id,
                        locked=-d.amount,
                        available=d.amount,
                    )
                    d.status = DepositStatus.UNLOCKED
                    d.unlocked_at = utcnow()
                    emit(
                        session,
                        ExchangeEvent.DEPOSIT_UNLOCKED,
                        as_json(deposit_out(d, tip)),
                    )
                    changed = True
        if changed:
            self.core.ctx.dispatcher.poke()
