"""The genesis is built by code from the pinned geth's own dev genesis and the BSC profile."""

from __future__ import annotations

from devnet.genesis import build_genesis, geth_dev_genesis
from devnet.profile import BscProfile
from devnet.tools import geth_path


def test_genesis_is_merged_with_zero_base_fee_and_bsc_forks() -> None:
    genesis = build_genesis(
        BscProfile(network="chapel", prefunded_accounts=20), geth_dev_genesis(geth_path())
    )
    config = genesis["config"]
    assert config["chainId"] == 97
    assert config["terminalTotalDifficulty"] == 0 and genesis["difficulty"] == "0x0"
    assert genesis["baseFeePerGas"] == "0x0"
    assert int(genesis["gasLimit"], 16) == 2_000_000_000
    assert config["pragueTime"] == 0 and config["osakaTime"] == 0
    prague_only = build_genesis(
        BscProfile(hardfork="prague", prefunded_accounts=20), geth_dev_genesis(geth_path())
    )
    assert "osakaTime" not in prague_only["config"]


def test_prefunded_accounts_come_from_the_mnemonic() -> None:
    from devnet.core.accounts import derive_accounts

    profile = BscProfile(prefunded_accounts=25)
    genesis = build_genesis(profile, geth_dev_genesis(geth_path()))
    funded = {a.lower() for a, v in genesis["alloc"].items() if int(v["balance"], 16) == profile.prefund_wei}
    expected = {a.address.lower().removeprefix("0x") for a in derive_accounts(profile.mnemonic, 0, 25)}
    assert expected <= {a.removeprefix("0x") for a in funded}
