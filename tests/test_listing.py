"""Listing conformance on the session world: the devnet's tokens pass; a token with the quirks
exchanges meet in the wild fails each check that should catch it."""

from __future__ import annotations

import pytest

from devnet.core.wallets import WalletPool
from harness.connect import Devnet
from harness.listing import render_html, review


@pytest.mark.parametrize("symbol", ["KGST", "USDKG"])
def test_the_devnet_tokens_pass_the_listing_review(devnet: Devnet, symbol: str) -> None:
    result = review(devnet, symbol)
    failed = [c.name for c in result.checks if not c.passed]
    assert result.passed, failed
    assert {"bep20_metadata", "runtime_bytecode", "transfer_events", "fee_on_transfer", "paused"} <= {
        c.name for c in result.checks
    }


def test_a_quirky_token_fails_each_check_that_should_catch_it(devnet: Devnet, world_lane: WalletPool) -> None:
    admin, holder, other = world_lane.wallets[-3:]
    chain = devnet.chain
    address = chain.deploy(admin, "QuirkyToken", "Quirky Dollar", "QUSD", 6, 100)  # 1% fee
    token = chain.contract("QuirkyToken", address)
    chain.transact(admin, token, "mint", holder.address, 1_000_000_000)  # no Transfer event
    chain.transact(holder, token, "transfer", other.address, 1_000_000)  # logs 1,000,000, delivers 990,000
    result = review(devnet, address)
    verdicts = {c.name: c.passed for c in result.checks}
    assert not result.passed
    assert verdicts["bep20_metadata"] is False  # no getOwner()
    assert verdicts["runtime_bytecode"] is False  # not the audited contract
    assert verdicts["transfer_events"] is False  # supply minted without Transfer(0x0, ...)
    assert verdicts["fee_on_transfer"] is False  # the recipient gets less than the value
    page = render_html(result, "QUSD")
    assert "does not pass" in page and page.count("FAIL") >= 4
