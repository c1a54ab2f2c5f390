"""What a block holds of users' transactions, apart from BSC's system transactions.

On BSC (the bsc engine) the validator that seals a block appends system transactions: it pays
the block's fees to the validator-set contract (`deposit`), and at times slashes, distributes
rewards or updates the validator set. bsc's own rule (`Parlia.IsSystemTransaction`,
consensus/parlia/parlia.go): a transaction to a system contract, with gas price 0, sent by the
block's coinbase. Counters of throughput count the rest: what users sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devnet.core.rpc import Rpc, RpcError

#: BSC's system contracts (core/systemcontracts/const.go of bnb-chain/bsc): validator set,
#: slash, system reward, light client, token hub, relayer incentive and hub, gov hub, token
#: manager; cross chain, staking, stake hub, stake credit, governor, gov token, timelock;
#: token recover portal.
SYSTEM_CONTRACTS = frozenset(f"0x{n:040x}" for n in [*range(0x1000, 0x1009), *range(0x2000, 0x2007), 0x3000])


def is_system_transaction(tx: Mapping[str, Any], block: Mapping[str, Any]) -> bool:
    """`tx` (a full transaction object of `block`) is one of BSC's system transactions."""
    to = tx.get("to")
    return (
        to is not None
        and str(to).lower() in SYSTEM_CONTRACTS
        and int(str(tx.get("gasPrice") or "0x0"), 16) == 0
        and str(tx.get("from", "")).lower() == str(block.get("miner", "")).lower()
    )


def gas_less(rpc: Rpc, block: Mapping[str, Any], hashes: list[str]) -> int:
    """`block`'s gas less what the transactions `hashes` (of that block) used, by their receipts."""
    gas = int(block["gasUsed"], 16)
    for h, receipt in zip(
        hashes, rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes]), strict=True
    ):
        if isinstance(receipt, RpcError) or receipt is None:
            raise RuntimeError(f"block {int(block['number'], 16)} holds {h}, which has no receipt: {receipt}")
        gas -= int(receipt["gasUsed"], 16)
    return gas


def user_load(rpc: Rpc, block: Mapping[str, Any]) -> tuple[int, int]:
    """(transactions, gas) of `block` (fetched with full transactions) that users sent: its
    system transactions and the gas their receipts used left out."""
    txs = block["transactions"]
    system = [tx["hash"] for tx in txs if is_system_transaction(tx, block)]
    return len(txs) - len(system), gas_less(rpc, block, system)
