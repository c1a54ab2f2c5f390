"""The bsc validator's StakeHub registration, without a node: the call it sends and when a
start must wait for a breathe block to pass first."""

from __future__ import annotations

import re

import pytest
from eth_abi import decode
from eth_utils import keccak

from devnet.node.bsc.stakehub import (
    BREATHE_MARGIN_S,
    COMMISSION,
    breathe_wait_s,
    create_validator_data,
    moniker,
)

CONSENSUS = "0x5D284fe6D6AEb73857960a0D041CF394b1198392"


def test_create_validator_call_carries_the_keys_commission_and_moniker() -> None:
    vote_key, proof = bytes([0xAA]) * 48, bytes([0xBB]) * 96
    data = create_validator_data(CONSENSUS, vote_key, proof)
    signature = "createValidator(address,bytes,bytes,(uint64,uint64,uint64),(string,string,string,string))"
    assert data[:4] == keccak(text=signature)[:4]
    types = ["address", "bytes", "bytes", "(uint64,uint64,uint64)", "(string,string,string,string)"]
    consensus, key, pop, commission, description = decode(types, data[4:])
    assert (consensus.lower(), key, pop, commission) == (CONSENSUS.lower(), vote_key, proof, COMMISSION)
    rate, max_rate, max_change = commission
    assert rate <= max_rate <= 5_000 and max_change <= max_rate  # StakeHub's InvalidCommission rule
    assert description[0] == moniker(0)


@pytest.mark.parametrize("index", [0, 5, 123])
def test_monikers_follow_stakehubs_rule(index: int) -> None:
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]{2,8}", moniker(index))


@pytest.mark.parametrize(
    ("now", "interval", "wait"),
    [
        (86_400 * 10 + 3_600, 86_400, 0.0),  # a UTC day: far from midnight
        (86_400 * 11 - 10, 86_400, 11.0),  # ten seconds to midnight: start just after it
        (1_000, 40, 0.0),  # a 40 s interval, at a breathe block: the next one is 40 s away
        (1_015, 40, 26.0),  # 25 s before the next one: start just after it
    ],
)
def test_a_start_waits_only_when_a_breathe_block_is_near(now: float, interval: int, wait: float) -> None:
    assert breathe_wait_s(now, interval) == wait


def test_after_the_wait_the_next_breathe_block_is_a_margin_away() -> None:
    for now in range(86_400 * 5 - 100, 86_400 * 5 + 100):
        start = now + breathe_wait_s(now, 86_400)
        assert 86_400 - start % 86_400 >= BREATHE_MARGIN_S
