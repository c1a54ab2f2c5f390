"""Listing review: automated checks an exchange runs before it lists a BEP-20 token.

Each check is pass/fail with a detail line; a review passes when every required check passes.
Checks (names as reported):

- `contract_code`: there is contract code at the address (not an EOA);
- `bep20_metadata`: name(), symbol(), decimals(), totalSupply() and getOwner() answer;
- `runtime_bytecode`: the deployed code equals the committed StableCoin artifact (immutables
  masked), i.e. the token is the audited contract and not a look-alike;
- `transfer_events`: from the token's whole log history, every Mint has its
  Transfer(0x0 -> to), every Burn / Redeemed its Transfer(holder -> 0x0), and totalSupply equals
  minted - burned by Transfer logs (a mint without a Transfer breaks this); plus a transfer
  simulated with eth_simulateV1 must emit Transfer;
- `fee_on_transfer`: transferFeeBps() is 0 (when present) and a simulated transfer from a
  holder found in the history delivers exactly `value` to a fresh recipient;
- `paused`: paused() is false and the simulated transfer does not revert for a pause;
- `blacklist`: reports whether the token can blacklist (isBlacklisted) and fails when the
  exchange's own hot wallet is blacklisted.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from devnet.core.artifacts import load_artifact, runtime_matches
from devnet.core.events import DecodedLog, decode_log
from devnet.core.rpc import Rpc
from devnet.services.exchange.erc20 import (
    BURN_TOPIC,
    MINT_TOPIC,
    REDEEMED_TOPIC,
    TRANSFER_TOPIC,
    ZERO_ADDRESS,
    CallFailed,
    SimulatedCall,
    SimulationUnsupported,
    TransferLog,
    balance_of,
    calldata,
    get_logs,
    parse_transfer,
    read,
    simulate,
)

CHECKS = (
    "contract_code",
    "bep20_metadata",
    "runtime_bytecode",
    "transfer_events",
    "fee_on_transfer",
    "paused",
    "blacklist",
)
#: Holders tried (most recent first) for the simulated transfer.
MAX_PROBED_HOLDERS = 10


@dataclass
class Check:
    name: str
    passed: bool
    detail: str
    required: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, "required": self.required}


@dataclass
class Review:
    token_address: str
    block_number: int
    checks: list[Check]
    capabilities: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks if c.required)


def _unique_recent(addresses: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for a in addresses:
        if a != ZERO_ADDRESS and a not in seen:
            seen.append(a)
    return seen


@dataclass
class _Probe:
    """What one simulated transfer showed."""

    ran: bool = False
    unsupported: str = ""
    holder: str | None = None
    value: int = 0
    received: int | None = None
    emitted_transfer: bool = False
    reverted: str = ""


def _simulate_transfer(rpc: Rpc, token: str, holder: str, value: int, block: int) -> _Probe:
    recipient = to_checksum_address("0x" + os.urandom(20).hex())
    probe = _Probe(holder=holder, value=value)
    try:
        results: list[SimulatedCall] = simulate(
            rpc,
            [
                {
                    "from": holder,
                    "to": token,
                    "data": calldata("transfer(address,uint256)", recipient, value),
                },
                {"to": token, "data": calldata("balanceOf(address)", recipient)},
            ],
            block,
        )
    except SimulationUnsupported as e:
        probe.unsupported = str(e)
        return probe
    probe.ran = True
    transfer, balance = results
    if not transfer.ok:
        probe.reverted = transfer.reason
        return probe
    for log in transfer.logs:
        parsed = parse_transfer(log)
        if parsed and parsed.sender == holder and parsed.recipient == recipient:
            probe.emitted_transfer = True
    if balance.ok and len(balance.return_data) >= 32:
        probe.received = int(abi_decode(["uint256"], balance.return_data)[0])
    return probe


def review_token(rpc: Rpc, token_address: str, hot_wallet: str, optional: Iterable[str] = ()) -> Review:
    """Run every check against `token_address` at the current head."""
    optional = set(optional)
    address = to_checksum_address(token_address)
    head = int(rpc.call("eth_blockNumber"), 16)
    review = Review(token_address=address, block_number=head, checks=[])

    def add(name: str, passed: bool, detail: str) -> None:
        review.checks.append(Check(name, passed, detail, required=name not in optional))

    code = bytes.fromhex(str(rpc.call("eth_getCode", address, hex(head))).removeprefix("0x"))
    if not code:
        add("contract_code", False, f"no contract code at {address}: an externally owned account or nothing")
        for name in CHECKS[1:]:
            add(name, False, "not checked: no contract code")
        return review
    add("contract_code", True, f"{len(code)} bytes of runtime code")

    # ---- BEP-20 metadata ------------------------------------------------------------------
    values: dict[str, Any] = {}
    missing: list[str] = []
    for fn, returns in (
        ("name", "string"),
        ("symbol", "string"),
        ("decimals", "uint8"),
        ("totalSupply", "uint256"),
        ("getOwner", "address"),
    ):
        try:
            values[fn] = read(rpc, address, f"{fn}()", returns, block=head)
        except CallFailed as e:
            missing.append(f"{fn}(): {e.reason}")
    if "getOwner" in values:
        values["getOwner"] = to_checksum_address(values["getOwner"])
    shown = ", ".join(
        f"{k}={v}" if k == "getOwner" or not isinstance(v, str) else f"{k}={v!r}" for k, v in values.items()
    )
    if missing:
        add(
            "bep20_metadata",
            False,
            "missing or failing: " + "; ".join(missing) + (f" (read: {shown})" if shown else ""),
        )
    else:
        add("bep20_metadata", True, shown)

    # ---- bytecode ---------------------------------------------------------------------------
    if runtime_matches(code, "StableCoin"):
        add(
            "runtime_bytecode",
            True,
            "runtime code equals the committed StableCoin artifact (immutables masked)",
        )
    else:
        expected = len(bytes.fromhex(load_artifact("StableCoin")["deployedBytecode"].removeprefix("0x")))
        add(
            "runtime_bytecode",
            False,
            f"runtime code differs from the committed StableCoin artifact ({len(code)} bytes on chain, "
            f"{expected} in the artifact)",
        )

    # ---- history: Transfer, Mint, Burn, Redeemed ------------------------------------------------
    logs = get_logs(rpc, address, [[TRANSFER_TOPIC, MINT_TOPIC, BURN_TOPIC, REDEEMED_TOPIC]], 0, head)
    transfers: list[TransferLog] = []
    by_tx: dict[str, list[TransferLog]] = defaultdict(list)
    supply_events: list[DecodedLog] = []
    for event in filter(None, map(decode_log, logs)):
        if event.name == "Transfer":
            transfer = TransferLog.of(event)
            transfers.append(transfer)
            by_tx[transfer.tx_hash].append(transfer)
        elif event.name in ("Mint", "Burn", "Redeemed"):
            supply_events.append(event)
    minted = sum(t.value for t in transfers if t.sender == ZERO_ADDRESS)
    burned = sum(t.value for t in transfers if t.recipient == ZERO_ADDRESS)
    problems: list[str] = []
    counts = {"Mint": 0, "Burn": 0, "Redeemed": 0}
    for event in supply_events:
        counts[event.name] += 1
        tx, amount, same_tx = event.tx_hash, event.args["amount"], by_tx.get(event.tx_hash, [])
        if event.name == "Mint":
            to = event.args["to"]
            if not any(t.sender == ZERO_ADDRESS and t.recipient == to and t.value == amount for t in same_tx):
                problems.append(f"Mint of {amount} to {to} in {tx} has no Transfer from 0x0")
            continue
        who = event.args["burner"] if event.name == "Burn" else event.args["holder"]
        if not any(t.sender == who and t.recipient == ZERO_ADDRESS and t.value == amount for t in same_tx):
            what = "Burn of" if event.name == "Burn" else "Redeemed"
            problems.append(f"{what} {amount} by {who} in {tx} has no Transfer to 0x0")
    supply = values.get("totalSupply")
    if isinstance(supply, int) and supply != minted - burned:
        problems.append(
            f"totalSupply {supply} != minted {minted} - burned {burned} by Transfer logs "
            "(supply changed without Transfer events)"
        )

    # ---- simulated transfer from a holder --------------------------------------------------
    holders = _unique_recent(t.recipient for t in reversed(transfers))
    probe = _Probe()
    for holder in holders[:MAX_PROBED_HOLDERS]:
        try:
            balance = balance_of(rpc, address, holder, head)
        except CallFailed:
            break
        if balance > 0:
            probe = _simulate_transfer(rpc, address, holder, balance, head)
            if probe.unsupported or not probe.reverted or "paused" in probe.reverted.lower():
                break
    if probe.holder is None:  # nobody holds any: a zero-value transfer still must emit Transfer
        probe = _simulate_transfer(rpc, address, to_checksum_address(hot_wallet), 0, head)
    if probe.ran and not probe.reverted and not probe.emitted_transfer:
        problems.append(f"a simulated transfer of {probe.value} from {probe.holder} emitted no Transfer")
    history = (
        f"{len(transfers)} Transfer logs, {counts['Mint']} Mint, {counts['Burn']} Burn, "
        f"{counts['Redeemed']} Redeemed; minted {minted}, burned {burned}"
    )
    if probe.unsupported:
        sim_note = f"simulation unavailable ({probe.unsupported})"
    elif probe.reverted:
        sim_note = f"simulated transfer reverted: {probe.reverted}"
    else:
        sim_note = "a simulated transfer emitted Transfer"
    if problems:
        add("transfer_events", False, "; ".join(problems) + f" ({history})")
    else:
        add(
            "transfer_events",
            True,
            f"{history}; every Mint/Burn/Redeemed has its Transfer, totalSupply reconciles; {sim_note}",
        )

    # ---- fee on transfer -------------------------------------------------------------------
    fee_bps: int | None
    try:
        fee_bps = int(read(rpc, address, "transferFeeBps()", "uint16", block=head))
    except CallFailed:
        fee_bps = None
    fee_notes: list[str] = []
    fee_found = bool(fee_bps)
    if fee_bps is not None:
        fee_notes.append(f"transferFeeBps={fee_bps}")
    if probe.ran and not probe.reverted and probe.received is not None and probe.holder is not None:
        if probe.value > 0:
            if probe.received != probe.value:
                fee_found = True
                fee_notes.append(
                    f"a simulated transfer of {probe.value} from {probe.holder} delivered {probe.received} "
                    f"(fee {probe.value - probe.received}): credit the balance change, not the value"
                )
            else:
                fee_notes.append(f"a simulated transfer of {probe.value} delivered it in full")
        else:
            fee_notes.append("no holder with a balance to probe a transfer with")
    elif probe.reverted:
        fee_notes.append(f"fee probe inconclusive: simulated transfer reverted ({probe.reverted})")
    else:
        fee_notes.append("no holder to probe a transfer with")
    add(
        "fee_on_transfer",
        not fee_found,
        ("fee on transfer: " if fee_found else "no fee on transfer: ") + "; ".join(fee_notes),
    )

    # ---- pause -----------------------------------------------------------------------------
    paused: bool | None
    try:
        paused = bool(read(rpc, address, "paused()", "bool", block=head))
    except CallFailed:
        paused = None
    sim_paused = "paused" in probe.reverted.lower()
    if paused or sim_paused:
        why = ["paused() is true"] if paused else []
        if sim_paused:
            why.append(f"a simulated transfer reverts with {probe.reverted!r}")
        add("paused", False, "token is paused: " + "; ".join(why) + " (deposits and withdrawals impossible)")
    else:
        capability = "pausable (paused() is false)" if paused is not None else "no paused() function"
        add("paused", True, f"not paused; {capability}")

    # ---- blacklist -------------------------------------------------------------------------
    try:
        hot_blacklisted: bool | None = bool(
            read(rpc, address, "isBlacklisted(address)", "bool", to_checksum_address(hot_wallet), block=head)
        )
    except CallFailed:
        hot_blacklisted = None
    if hot_blacklisted is None:
        add("blacklist", True, "no blacklist capability (isBlacklisted missing)")
    elif hot_blacklisted:
        add(
            "blacklist",
            False,
            f"blacklist capability (isBlacklisted); the exchange hot wallet {hot_wallet} is blacklisted",
        )
    else:
        add(
            "blacklist",
            True,
            f"blacklist capability (isBlacklisted); hot wallet {hot_wallet} is not blacklisted",
        )

    review.capabilities = {
        "pause": paused is not None,
        "blacklist": hot_blacklisted is not None,
        "transfer_fee": fee_bps is not None,
        "transfer_fee_bps": fee_bps,
        "mint_events": counts["Mint"] > 0,
        "simulation": probe.ran,
        "holders_seen": len(holders),
    }
    return review
