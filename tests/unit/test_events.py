"""One event table from the committed ABIs, one decoder for raw logs."""

from __future__ import annotations

from typing import Any

from eth_abi import encode

from devnet.core.events import decode_log, signature_topic, topic

HOLDER = "0x4ED2C64BF3907D2801df9d26156DDcE3bF407a9E"
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _log(topics: list[str], data: bytes) -> dict[str, Any]:
    return {
        "address": TOKEN.lower(),
        "topics": topics,
        "data": "0x" + data.hex(),
        "blockNumber": "0x1f",
        "blockHash": "0x" + "ab" * 32,
        "transactionHash": "0x" + "cd" * 32,
        "logIndex": "0x2",
    }


def _word(value: Any, type_: str) -> str:
    return "0x" + encode([type_], [value]).hex()


def test_topics_are_the_signatures_keccak() -> None:
    assert topic("Transfer") == signature_topic("Transfer(address,address,uint256)")
    assert topic("Transfer") == "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    assert topic("Redeemed") == signature_topic("Redeemed(uint256,address,bytes32,uint256)")


def test_a_redeemed_log_is_decoded_by_name() -> None:
    ref = b"1030000000000493".ljust(32, b"\0")
    log = _log(
        [topic("Redeemed"), _word(7, "uint256"), _word(HOLDER, "address"), "0x" + ref.hex()],
        encode(["uint256"], [17_480 * 10**18]),
    )
    decoded = decode_log(log)
    assert decoded is not None and decoded.name == "Redeemed"
    assert decoded.args["redemptionId"] == 7 and decoded.args["holder"] == HOLDER
    assert decoded.args["payoutRef"].rstrip(b"\0") == b"1030000000000493"
    assert decoded.args["amount"] == 17_480 * 10**18
    assert (decoded.address, decoded.block_number, decoded.log_index) == (TOKEN, 31, 2)


def test_a_transfer_log_is_decoded_and_a_foreign_layout_is_left_alone() -> None:
    zero = "0x" + "00" * 20
    mint = decode_log(
        _log([topic("Transfer"), _word(zero, "address"), _word(HOLDER, "address")], encode(["uint256"], [5]))
    )
    assert mint is not None and (mint.args["from"], mint.args["to"], mint.args["value"]) == (
        "0x0000000000000000000000000000000000000000",
        HOLDER,
        5,
    )
    # an ERC-721 Transfer indexes the token id too: same topic, four topics, not ours to read
    nft = _log(
        [topic("Transfer"), _word(zero, "address"), _word(HOLDER, "address"), _word(1, "uint256")], b""
    )
    assert decode_log(nft) is None
    assert decode_log(_log(["0x" + "11" * 32], b"")) is None
    assert decode_log(_log([], b"")) is None


def test_a_watcher_decodes_only_the_transfers_it_concerns() -> None:
    """`touches` reads a Transfer's sender and recipient from its topics as the decoder does:
    the exchange's watcher skips, undecoded, the logs to and from addresses it does not watch."""
    from devnet.services.exchange.erc20 import parse_transfer, touches

    other = "0x" + "77" * 20
    log = _log(
        [topic("Transfer"), _word(HOLDER, "address"), _word(other, "address")], encode(["uint256"], [5])
    )
    parsed = parse_transfer(log)
    assert parsed is not None
    for watched, concerned in [
        ({parsed.sender.lower()}, True),
        ({parsed.recipient.lower()}, True),
        ({TOKEN.lower(), "0x" + "00" * 20}, False),  # the token's own address is not a party
        (set(), False),
    ]:
        assert touches(log, watched) is concerned
    assert not touches(_log([topic("Transfer")], b""), {HOLDER.lower()})
