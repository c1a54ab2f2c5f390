"""BSC's system transactions, told apart as bsc's Parlia does (to a system contract, gas price
0, from the block's coinbase), so that throughput counts only what users sent."""

from __future__ import annotations

from devnet.core.blocks import SYSTEM_CONTRACTS, is_system_transaction

MINER = "0x0E3587144d745470988b2dD9000e5f5D6Dd2e1bB"
BLOCK = {"miner": MINER}
VALIDATOR_SET = "0x0000000000000000000000000000000000001000"


def tx(**fields: str | None) -> dict[str, str | None]:
    return {"from": MINER.lower(), "to": VALIDATOR_SET, "gasPrice": "0x0", **fields}


def test_the_validators_fee_deposit_is_a_system_transaction() -> None:
    assert is_system_transaction(tx(), BLOCK)
    assert is_system_transaction(tx(to="0x0000000000000000000000000000000000002002"), BLOCK)  # StakeHub


def test_a_user_transaction_is_not_even_to_a_system_contract() -> None:
    assert not is_system_transaction(tx(gasPrice="0x3b9aca00"), BLOCK)  # priced: a user's call
    assert not is_system_transaction(tx(**{"from": "0x" + "11" * 20}), BLOCK)  # not the sealer
    assert not is_system_transaction(tx(to="0x0000000000000000000000000000000000001009"), BLOCK)
    assert not is_system_transaction(tx(to=None), BLOCK)  # a contract creation


def test_the_system_contracts_are_bscs_seventeen() -> None:
    assert len(SYSTEM_CONTRACTS) == 17
    assert "0x0000000000000000000000000000000000003000" in SYSTEM_CONTRACTS  # token recover portal
