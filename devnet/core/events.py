"""One event table and one log decoder, built from the committed ABIs.

Every event of every artifact is known by its topic (keccak of its signature) and by how many
of its inputs are indexed; `decode_log` turns a raw JSON-RPC log into a `DecodedLog` with its
arguments by name. Logs of foreign contracts that share a topic but index differently (an
ERC-721 `Transfer` has four topics) are left undecoded rather than misread.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from devnet.core.artifacts import artifact_names, load_artifact


@dataclass(frozen=True)
class EventAbi:
    name: str
    signature: str
    topic: str
    #: (name, type, indexed) per input, in order
    inputs: tuple[tuple[str, str, bool], ...]

    @property
    def indexed_count(self) -> int:
        return sum(1 for _, _, indexed in self.inputs if indexed)


@dataclass(frozen=True)
class DecodedLog:
    name: str
    address: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


def signature_topic(signature: str) -> str:
    """`Transfer(address,address,uint256)` -> its topic 0."""
    return "0x" + keccak(text=signature).hex()


@cache
def event_table() -> dict[tuple[str, int], EventAbi]:
    """(topic, number of indexed inputs) -> the event, over every committed artifact."""
    table: dict[tuple[str, int], EventAbi] = {}
    for artifact in artifact_names():
        for entry in load_artifact(artifact)["abi"]:
            if entry["type"] != "event" or entry.get("anonymous"):
                continue
            types = ",".join(i["type"] for i in entry["inputs"])
            signature = f"{entry['name']}({types})"
            event = EventAbi(
                entry["name"],
                signature,
                signature_topic(signature),
                tuple((i["name"], i["type"], bool(i["indexed"])) for i in entry["inputs"]),
            )
            table[(event.topic, event.indexed_count)] = event
    return table


@cache
def topic(name: str) -> str:
    """The topic of the committed ABIs' event called `name` (e.g. "Redeemed")."""
    found = {e.topic for e in event_table().values() if e.name == name}
    if len(found) != 1:
        raise KeyError(f"{len(found)} events named {name!r} in the committed ABIs")
    return found.pop()


def decode_log(log: dict[str, Any]) -> DecodedLog | None:
    """The log decoded by the event table, or None for an event it does not know."""
    topics: list[str] = [str(t).lower() for t in log.get("topics", [])]
    if not topics:
        return None
    event = event_table().get((topics[0], len(topics) - 1))
    if event is None:
        return None
    args: dict[str, Any] = {}
    indexed = iter(topics[1:])
    plain = [(name, type_) for name, type_, is_indexed in event.inputs if not is_indexed]
    values = iter(abi_decode([t for _, t in plain], bytes.fromhex(str(log["data"])[2:])) if plain else ())
    for name, type_, is_indexed in event.inputs:
        if is_indexed:
            raw = bytes.fromhex(next(indexed)[2:])
            # dynamic types are indexed by their hash: kept as the 32 bytes
            dynamic = type_ in ("string", "bytes") or type_.endswith("]")
            args[name] = raw if dynamic else abi_decode([type_], raw)[0]
        else:
            args[name] = next(values)
        if type_ == "address":
            args[name] = to_checksum_address(args[name])
    return DecodedLog(
        name=event.name,
        address=to_checksum_address(log["address"]),
        args=args,
        block_number=int(log["blockNumber"], 16),
        block_hash=str(log["blockHash"]).lower(),
        tx_hash=str(log["transactionHash"]).lower(),
        log_index=int(log["logIndex"], 16),
    )
