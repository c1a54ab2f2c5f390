"""The exchange's own books against the chain (GET /reconciliation, read by harness.reconcile).

Per token: liabilities = what users hold (available + locked) plus what processing
withdrawals still have to send (amount - fee); holdings = balanceOf the hot wallet and of
every deposit address, read now. Holdings may exceed liabilities (withdrawal fees earned,
dust, deposits not yet credited); the other way round the exchange is short (e.g. a transfer
fee paid on sweeps, or a credit reversed after it was withdrawn).

Per deposit: the ledger entries it caused must add up to its amount when it is credited or
unlocked, and to zero otherwise (pending, dust, reversed). Any other sum, a double credit
above all, is listed in `duplicate_deposits`.
"""

from __future__ import annotations

from collections import defaultdict

from eth_abi import decode as abi_decode
from sqlalchemy import select

from devnet.core.rpc import RpcError
from devnet.services.exchange.api import DepositStatus, Reconciliation, TokenBooks, WithdrawalStatus
from devnet.services.exchange.core import ExchangeCore
from devnet.services.exchange.erc20 import calldata
from devnet.services.exchange.models import Balance, Deposit, DepositAddress, LedgerEntry, Network, Withdrawal
from devnet.services.exchange.watcher import LAST_BLOCK

CREDITED = (DepositStatus.CREDITED, DepositStatus.UNLOCKED)


def reconcile_books(core: ExchangeCore) -> Reconciliation:
    with core.db.read() as session:
        tokens = {
            n.symbol: n.contract_address for n in session.scalars(select(Network).order_by(Network.symbol))
        }
        owed: dict[str, int] = defaultdict(int)
        for b in session.scalars(select(Balance)):
            owed[b.token] += b.available + b.locked
        in_flight: dict[str, int] = defaultdict(int)
        for w in session.scalars(select(Withdrawal).where(Withdrawal.status == WithdrawalStatus.PROCESSING)):
            in_flight[w.token] += w.amount - w.fee
        addresses = [core.hot.address, *session.scalars(select(DepositAddress.address))]
        deposits = list(session.scalars(select(Deposit)))
        booked: dict[str, int] = defaultdict(int)
        for entry in session.scalars(select(LedgerEntry).where(LedgerEntry.kind.like("deposit.%"))):
            booked[entry.ref] += entry.available_delta + entry.locked_delta
        last_block = core.cursor(session, LAST_BLOCK)
    block = core.chain.block_number()
    out: dict[str, TokenBooks] = {}
    for symbol, contract in tokens.items():
        calls = [
            ("eth_call", [{"to": contract, "data": calldata("balanceOf(address)", a)}, hex(block)])
            for a in addresses
        ]
        holdings = 0
        for result in core.rpc.batch(calls):
            if isinstance(result, RpcError):
                raise result
            holdings += int(abi_decode(["uint256"], bytes.fromhex(str(result).removeprefix("0x")))[0])
        liabilities = owed[symbol] + in_flight[symbol]
        out[symbol] = TokenBooks(
            liabilities=liabilities,
            holdings=holdings,
            user_balances=owed[symbol],
            withdrawals_in_flight=in_flight[symbol],
            surplus=holdings - liabilities,
        )
    wrong = [d.id for d in deposits if booked.get(d.id, 0) != (d.amount if d.status in CREDITED else 0)]
    return Reconciliation(
        block=block,
        last_processed_block=last_block,
        tokens=out,
        credited_deposits=sum(1 for d in deposits if d.status in CREDITED),
        duplicate_deposits=wrong,
    )
