"""The bsc engine passes breathe blocks: its validator, registered in StakeHub once the node
is ready, is elected again, and the chain goes on. BSC's interval is a UTC day; this node's is
40 s (bsc's --override.breatheblockinterval, the profile's bsc_breathe_block_interval_s).
Without the registration, `updateValidatorSetV2` fails at the first breathe block and the
chain stops there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from devnet.core.rpc import Rpc
from devnet.node import NodeHandle, start_node
from devnet.node.bsc.genesis import VALIDATOR_CONTRACT
from devnet.node.bsc.keys import validator_account
from devnet.profile import BscProfile

pytestmark = pytest.mark.xdist_group("bsc-engine")

INTERVAL_S = 40
PROFILE = BscProfile(prefunded_accounts=20, bsc_breathe_block_interval_s=INTERVAL_S)
UPDATE_VALIDATOR_SET_V2 = "0x" + keccak(text="updateValidatorSetV2(address[],uint64[],bytes[])")[:4].hex()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeHandle]:
    with start_node("bsc", PROFILE, Path(tmp_path_factory.mktemp("bsc-breathe"))) as handle:
        yield handle


def _day(block: dict[str, Any]) -> int:
    """Which breathe interval a block's time falls in (bsc: isBreatheBlock, sameDayInUTC)."""
    return int(block["timestamp"], 16) // INTERVAL_S


def test_the_chain_passes_breathe_blocks_with_its_validator_elected(node: NodeHandle) -> None:
    rpc = Rpc(node.rpc_url)
    ours = validator_account(PROFILE).address.lower()

    def block(number: int) -> dict[str, Any] | None:
        result: dict[str, Any] | None = rpc.call("eth_getBlockByNumber", hex(number), True)
        return result

    breathe: int | None = None
    number = 2
    deadline = time.monotonic() + INTERVAL_S * 2 + 20
    while breathe is None or number <= breathe + 10:
        assert time.monotonic() < deadline, f"the chain stopped at block {number - 1} (breathe: {breathe})"
        current, parent = block(number), block(number - 1)
        if current is None:
            time.sleep(0.2)
            continue
        assert parent is not None
        if breathe is None and _day(parent) != _day(current):
            breathe = number
            txs = current["transactions"]
            calls = [t["input"][:10] for t in txs if (t["to"] or "").lower() == VALIDATOR_CONTRACT]
            assert UPDATE_VALIDATOR_SET_V2 in calls, f"breathe block {number} holds {calls}"
        number += 1
    assert [v.lower() for v in rpc.call("parlia_getValidators", "latest")] == [ours]
