"""Raw BEP-20 reads over JSON-RPC, for any token (not only this repository's StableCoin):
selector-encoded eth_call at any block, Transfer log decoding, log queries in chunks and
`eth_simulateV1` (geth and anvil) to try a transfer without sending it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from devnet.core.chain import decode_revert, error_revert_reason
from devnet.core.events import DecodedLog, decode_log, topic
from devnet.core.rpc import Rpc, RpcError

TRANSFER_TOPIC = topic("Transfer")
MINT_TOPIC = topic("Mint")
BURN_TOPIC = topic("Burn")
REDEEMED_TOPIC = topic("Redeemed")
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class CallFailed(RuntimeError):
    """An eth_call reverted (reason decoded) or returned nothing usable."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def calldata(signature: str, *args: Any) -> str:
    """`transfer(address,uint256)`, args -> 0x-prefixed calldata."""
    types = signature[signature.index("(") + 1 : -1]
    selector = keccak(text=signature)[:4]
    encoded = abi_encode([t for t in types.split(",") if t], list(args)) if types else b""
    return "0x" + (selector + encoded).hex()


def block_tag(block: int | str) -> str:
    return hex(block) if isinstance(block, int) else block


def eth_call(rpc: Rpc, to: str, data: str, block: int | str = "latest", sender: str | None = None) -> bytes:
    call: dict[str, Any] = {"to": to, "data": data}
    if sender:
        call["from"] = sender
    try:
        result = rpc.call("eth_call", call, block_tag(block))
    except RpcError as e:
        raise CallFailed(error_revert_reason(e) or e.message or "(no reason)") from e
    return bytes.fromhex(str(result).removeprefix("0x"))


def read(rpc: Rpc, to: str, signature: str, returns: str, *args: Any, block: int | str = "latest") -> Any:
    """Call a view function and decode its single return value; CallFailed if it cannot."""
    raw = eth_call(rpc, to, calldata(signature, *args), block)
    if not raw:
        raise CallFailed("no return data (function missing, or not a contract)")
    try:
        return abi_decode([returns], raw)[0]
    except Exception as e:
        raise CallFailed(f"cannot decode the return value as {returns}: {type(e).__name__}") from e


def balance_of(rpc: Rpc, token: str, holder: str, block: int | str = "latest") -> int:
    return int(read(rpc, token, "balanceOf(address)", "uint256", holder, block=block))


@dataclass(frozen=True)
class TransferLog:
    token: str
    sender: str
    recipient: str
    value: int
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str

    @classmethod
    def of(cls, event: DecodedLog) -> TransferLog:
        return cls(
            token=event.address,
            sender=event.args["from"],
            recipient=event.args["to"],
            value=event.args["value"],
            tx_hash=event.tx_hash,
            log_index=event.log_index,
            block_number=event.block_number,
            block_hash=event.block_hash,
        )


def touches(log: dict[str, Any], addresses: set[str]) -> bool:
    """Whether a Transfer log's indexed sender or recipient is one of `addresses` (lowercase),
    read from its topics without decoding it: a watcher decodes only the logs it concerns."""
    topics = log.get("topics") or []
    return any(("0x" + str(t)[-40:]).lower() in addresses for t in topics[1:3])


def parse_transfer(log: dict[str, Any]) -> TransferLog | None:
    """A standard Transfer(address indexed, address indexed, uint256) log, or None."""
    event = decode_log(log)
    return TransferLog.of(event) if event is not None and event.name == "Transfer" else None


def get_logs(
    rpc: Rpc,
    address: str | list[str],
    topics: list[Any],
    from_block: int,
    to_block: int,
    chunk: int = 10_000,
) -> list[dict[str, Any]]:
    logs: list[dict[str, Any]] = []
    start = from_block
    while start <= to_block:
        end = min(to_block, start + chunk - 1)
        query = {"address": address, "topics": topics, "fromBlock": hex(start), "toBlock": hex(end)}
        logs.extend(rpc.call("eth_getLogs", query) or [])
        start = end + 1
    return logs


@dataclass(frozen=True)
class SimulatedCall:
    ok: bool
    return_data: bytes
    logs: list[dict[str, Any]]
    reason: str


class SimulationUnsupported(RuntimeError):
    pass


def simulate(rpc: Rpc, calls: list[dict[str, Any]], block: int | str = "latest") -> list[SimulatedCall]:
    """Run `calls` in order on top of `block` with `eth_simulateV1` (no signature, no gas
    payment checks); nothing is sent. SimulationUnsupported if the node lacks the method."""
    try:
        result = rpc.call(
            "eth_simulateV1", {"blockStateCalls": [{"calls": calls}], "validation": False}, block_tag(block)
        )
    except RpcError as e:
        if e.code == -32601 or "not found" in e.message.lower() or "not supported" in e.message.lower():
            raise SimulationUnsupported(e.message) from e
        raise
    out: list[SimulatedCall] = []
    for item in result[0]["calls"]:
        raw = bytes.fromhex(str(item.get("returnData", "0x")).removeprefix("0x"))
        ok = item.get("status") == "0x1"
        reason = ""
        if not ok:
            error = item.get("error") or {}
            data = error.get("data") if isinstance(error, dict) else None
            if raw:
                reason = decode_revert(raw)
            elif isinstance(data, str) and len(data) > 2:
                reason = decode_revert(data)
            else:
                reason = str(error.get("message", "reverted")) if isinstance(error, dict) else "reverted"
        out.append(SimulatedCall(ok=ok, return_data=raw, logs=list(item.get("logs") or []), reason=reason))
    return out
