"""The bsc engine with several validators (BscProfile.bsc_validators, up to 6): one bsc process
each, peered over loopback, taking turns to seal and voting each other's blocks final."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devnet.core.chain import Chain
from devnet.core.rpc import Rpc
from devnet.node import NodeHandle, start_node
from devnet.node.bsc.keys import operator_account, validator_account
from devnet.node.bsc.stakehub import operator_of
from devnet.profile import BscProfile

pytestmark = pytest.mark.xdist_group("bsc-engine")

VALIDATORS = 3
PROFILE = BscProfile(prefunded_accounts=20, bsc_validators=VALIDATORS)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeHandle]:
    with start_node("bsc", PROFILE, Path(tmp_path_factory.mktemp("bsc-validators"))) as handle:
        yield handle


def test_all_validators_take_turns_and_finalize_each_others_blocks(node: NodeHandle) -> None:
    rpc = Rpc(node.rpc_url)

    def block(tag: int | str) -> dict[str, Any]:
        number = hex(tag) if isinstance(tag, int) else tag
        result: dict[str, Any] = rpc.call("eth_getBlockByNumber", number, False)
        return result

    ours = sorted(validator_account(PROFILE, i).address.lower() for i in range(VALIDATORS))
    assert sorted(v.lower() for v in rpc.call("parlia_getValidators", "latest")) == ours
    assert int(rpc.call("net_peerCount"), 16) == VALIDATORS - 1
    # Votes begin 40 blocks after each validator starts sealing.
    deadline = time.monotonic() + 90
    while int(block("finalized")["number"], 16) == 0:
        assert time.monotonic() < deadline, "nothing finalized"
        time.sleep(0.5)
    head = int(rpc.call("eth_blockNumber"), 16)
    recent = [block(n) for n in range(head - 30, head + 1)]
    assert {b["miner"].lower() for b in recent} == set(ours)
    stamps = [int(b["milliTimestamp"], 16) for b in recent]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert statistics.median(gaps) == 450, gaps
    assert int(block("latest")["number"], 16) - int(block("finalized")["number"], 16) <= 3
    chain = Chain(node.rpc_url, chain_id=PROFILE.chain_id)
    try:
        for i in range(VALIDATORS):
            operator = operator_account(PROFILE, i).address
            assert operator_of(chain, validator_account(PROFILE, i).address) == operator
    finally:
        chain.close()
