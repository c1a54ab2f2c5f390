"""Raw ceiling: pre-signed BEP-20 transfers flooded over eth_sendRawTransaction in batches.

Senders are funded first (a reserve report and mints), every transfer is signed before the
clock starts, and the flood keeps the node's txpool fed without overflowing it. Inclusion is
measured from the blocks themselves: transactions and gas per block, and the wall-clock time
at which each block was first seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from devnet.core.blocks import gas_less
from devnet.core.chain import Chain
from devnet.core.signing import SignedTx
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet, WalletPool


@dataclass
class FloodResult:
    transactions: int
    senders: int
    sign_seconds: float
    submit_seconds: float
    #: First submission to last inclusion, wall clock.
    total_seconds: float
    blocks: int
    gas_used: int
    #: Included tx/s over the steady window (first and last partial blocks left out).
    steady_tx_per_s: float
    steady_mgas_per_s: float
    overall_tx_per_s: float
    gas_per_transfer: int
    #: Seconds the submitter spent waiting for the txpool to drain (it keeps at most
    #: `max_in_flight` unincluded), and waiting for the node to answer its batches: when the two
    #: make most of `submit_seconds`, the node set the pace, not the submitter.
    waited_seconds: float = 0.0
    accepting_seconds: float = 0.0
    #: Mean time between the blocks that carried the flood, and their mean transfers.
    block_interval_s: float = 0.0
    tx_per_block: float = 0.0
    #: What capped the ceiling, in a sentence, from the numbers above.
    limited_by: str = ""
    per_block: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def fund_senders(
    token: StableCoinClient, reporter: Wallet, minter: Wallet, senders: WalletPool, amount_each: int
) -> None:
    """Report enough reserve and mint `amount_each` to every sender (mints pipelined)."""
    needed = token.total_supply() + amount_each * len(senders)
    if token.info.backing == "fiat":
        token.report_reserve(reporter, -(-needed * 10**2 // 10**token.info.decimals))
    else:
        raise ValueError("fund_senders reports a fiat reserve; use KGST")
    data = [token.chain.encode_call(token.contract, "mint", w.address, amount_each) for w in senders]
    hashes = [token.chain.send(minter, token.address, d, gas=200_000) for d in data]
    for h in hashes:
        token.chain.wait(h)


def flood(
    token: StableCoinClient,
    senders: WalletPool,
    transfers_per_sender: int,
    *,
    batch_size: int = 500,
    max_in_flight: int = 6_000,
    progress: Callable[[str], None] = lambda _m: None,
) -> FloodResult:
    chain: Chain = token.chain
    wallets = list(senders)
    gas = 60_000  # covers a transfer to an existing holder (~36.5k) with room
    # Each sender pays the next sender, so every recipient already holds the token.
    started = time.perf_counter()
    by_round: list[SignedTx] = []
    nonces = {w.address: chain.nonce(w.address, "pending") for w in wallets}
    # ABI-encode once per recipient: web3's encoder costs more than the signature itself.
    calldata = [
        chain.encode_call(token.contract, "transfer", wallets[(i + 1) % len(wallets)].address, 1)
        for i in range(len(wallets))
    ]
    for k in range(transfers_per_sender):
        for i, w in enumerate(wallets):
            by_round.append(chain.sign(w, token.address, calldata[i], gas=gas, nonce=nonces[w.address] + k))
    for w in wallets:
        w.resync(chain.rpc)  # the pool's counters must not reuse the nonces signed above
    sign_seconds = time.perf_counter() - started
    progress(
        f"signed {len(by_round)} transfers in {sign_seconds:.2f} s ({len(by_round) / sign_seconds:,.0f}/s)"
    )

    wanted = {tx.hash_hex for tx in by_round}
    seen_blocks: list[dict[str, float]] = []
    next_block = chain.block_number() + 1
    included = 0

    def poll_blocks() -> None:
        nonlocal next_block, included
        head = chain.block_number()
        while next_block <= head:
            block = chain.get_block(next_block)
            ours = sum(1 for h in block["transactions"] if h in wanted)
            included += ours
            seen_blocks.append(
                {
                    "number": next_block,
                    "seen_at": time.perf_counter(),
                    "txs": ours,
                    # Less whatever else the block holds (on bsc, the validator's system transactions).
                    "gas_used": gas_less(
                        chain.rpc, block, [h for h in block["transactions"] if h not in wanted]
                    ),
                }
            )
            next_block += 1

    t0 = time.perf_counter()
    sent = 0
    waited = accepting = 0.0
    while sent < len(by_round):
        if sent - included >= max_in_flight:  # keep the txpool under its global slots
            t_wait = time.perf_counter()
            poll_blocks()
            time.sleep(0.005)
            waited += time.perf_counter() - t_wait
            continue
        batch = by_round[sent : sent + batch_size]
        t_rpc = time.perf_counter()
        answers = chain.send_raw_batch(batch)
        accepting += time.perf_counter() - t_rpc
        errors = [r for r in answers if not isinstance(r, str)]
        if errors:
            raise RuntimeError(f"{len(errors)} of {len(batch)} transactions refused, first: {errors[0]}")
        sent += len(batch)
        poll_blocks()
    submit_seconds = time.perf_counter() - t0
    progress(f"submitted in {submit_seconds:.2f} s; waiting for inclusion ...")
    deadline = time.perf_counter() + 300
    while included < len(by_round):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {included} of {len(by_round)} transfers included after 300 s")
        poll_blocks()
        time.sleep(0.01)
    total_seconds = seen_blocks[-1]["seen_at"] - t0

    blocks = [b for b in seen_blocks if b["txs"]]
    # Steady window: between the first and the last block carrying the flood (both excluded).
    window = blocks[1:-1]
    if len(window) >= 1:
        span = window[-1]["seen_at"] - blocks[0]["seen_at"]
        steady_tx = sum(b["txs"] for b in window) / span if span > 0 else 0.0
        steady_gas = sum(b["gas_used"] for b in window) / span if span > 0 else 0.0
    else:
        steady_tx = len(by_round) / total_seconds
        steady_gas = sum(b["gas_used"] for b in blocks) / total_seconds
    gas_used = sum(int(b["gas_used"]) for b in blocks)
    seen = [b["seen_at"] for b in blocks]
    interval = (seen[-1] - seen[0]) / (len(seen) - 1) if len(seen) > 1 else 0.0
    per_block = len(by_round) / len(blocks) if blocks else 0.0
    node_share = (waited + accepting) / submit_seconds if submit_seconds else 0.0
    pace = (
        f"it took {accepting:.1f} s to accept the batches and the submitter waited {waited:.1f} s for "
        f"its pool to drain, of {submit_seconds:.1f} s; blocks came every {interval:.2f} s with "
        f"{per_block:,.0f} transfers each"
    )
    limited_by = (
        f"the node: {pace}"
        if node_share > 0.5
        else f"the submitter: only {node_share:.0%} in the node; {pace}"
    )
    return FloodResult(
        transactions=len(by_round),
        senders=len(wallets),
        sign_seconds=round(sign_seconds, 3),
        submit_seconds=round(submit_seconds, 3),
        total_seconds=round(total_seconds, 3),
        blocks=len(blocks),
        gas_used=gas_used,
        steady_tx_per_s=round(steady_tx, 1),
        steady_mgas_per_s=round(steady_gas / 1e6, 2),
        overall_tx_per_s=round(len(by_round) / total_seconds, 1),
        gas_per_transfer=gas_used // len(by_round),
        waited_seconds=round(waited, 3),
        accepting_seconds=round(accepting, 3),
        block_interval_s=round(interval, 3),
        tx_per_block=round(per_block, 1),
        limited_by=limited_by,
        per_block=[{**b, "seen_at": round(b["seen_at"] - t0, 3)} for b in blocks],
    )
