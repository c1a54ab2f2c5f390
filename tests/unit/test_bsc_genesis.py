"""The bsc engine's genesis, built by code: header extra data, the validator-set contract's
initial validators patched in its Chapel bytecode, the storage our validators need, and
Chapel's rules from block 1. Reads the pinned bsc module (as `devnet tools install` leaves it)."""

from __future__ import annotations

import functools

import pytest
from eth_utils import keccak, to_canonical_address

from devnet.core.accounts import derive_account, derive_accounts
from devnet.node.bsc.genesis import (
    EXTRA_SEAL,
    EXTRA_VANITY,
    MAX_VALIDATORS,
    SYSTEM_CONTRACTS,
    SYSTEM_REWARD_CONTRACT,
    VALIDATOR_CONTRACT,
    VALIDATOR_EXTRA_SET_SLOT,
    VALIDATOR_EXTRA_SLOTS,
    Validator,
    bsc_module_dir,
    build_bsc_genesis,
    chapel_genesis,
    extra_data,
    final_system_contract_code,
    init_validators,
    patch_init_validators,
    system_reward_storage,
    validator_set_storage,
)
from devnet.node.bsc.keys import VALIDATOR_ACCOUNT_INDEX, bls_public_keys, validator_account
from devnet.profile import BscProfile
from devnet.tools import BSC_GO_MODULE, bsc_path

MNEMONIC = "test test test test test test test test test test test junk"
#: Chapel's six initial validators (bsc v1.7.8, core/systemcontracts/lorentz/chapel/ValidatorContract).
CHAPEL_FIRST = "0x1284214b9b9c85549aB3D2b972df0dEEf66aC2c9"


@functools.cache
def chapel_code() -> dict[str, str]:
    return final_system_contract_code(bsc_module_dir(BSC_GO_MODULE))


def validators(n: int) -> list[Validator]:
    return [
        Validator(derive_account(MNEMONIC, VALIDATOR_ACCOUNT_INDEX + i).address, bytes([0xB0 + i]) * 48)
        for i in range(n)
    ]


def test_extra_data_is_vanity_count_validators_and_seal() -> None:
    vals = validators(2)
    extra = extra_data(vals)
    assert len(extra) == EXTRA_VANITY + 1 + 2 * (20 + 48) + EXTRA_SEAL == 234
    assert extra[:32] == bytes(32) and extra[-65:] == bytes(65)
    assert extra[32] == 2
    assert extra[33:53] == to_canonical_address(vals[0].address)
    assert extra[53:101] == vals[0].bls_public_key
    assert extra[101:121] == to_canonical_address(vals[1].address)


def test_a_bls_key_is_48_bytes() -> None:
    with pytest.raises(ValueError, match="48 bytes"):
        Validator(CHAPEL_FIRST, bytes(47))


def test_every_system_contract_gets_its_final_chapel_code() -> None:
    code = chapel_code()
    assert set(code) == set(SYSTEM_CONTRACTS)
    assert all(c.startswith("60806040") for c in code.values())


def test_chapel_validator_code_names_chapels_six_validators() -> None:
    initial = init_validators(bytes.fromhex(chapel_code()[VALIDATOR_CONTRACT]))
    assert len(initial) == 6 and initial[0] == CHAPEL_FIRST


@pytest.mark.parametrize("n", [1, 3, MAX_VALIDATORS])
def test_patched_validator_code_decodes_to_ours_and_keeps_its_length(n: int) -> None:
    code = bytes.fromhex(chapel_code()[VALIDATOR_CONTRACT])
    ours = [v.address for v in validators(n)]
    patched = patch_init_validators(code, ours)
    assert len(patched) == len(code)
    assert init_validators(patched) == ours
    changed = [i for i, (a, b) in enumerate(zip(code, patched, strict=True)) if a != b]
    assert changed[-1] - changed[0] < 427  # only INIT_VALIDATORSET_BYTES (427 bytes on Chapel)


def test_more_validators_than_chapel_has_are_refused() -> None:
    code = bytes.fromhex(chapel_code()[VALIDATOR_CONTRACT])
    with pytest.raises(ValueError, match="1 to 6 validators"):
        patch_init_validators(code, [v.address for v in validators(7)])


def test_validator_set_storage_holds_each_bls_key() -> None:
    vals = validators(2)
    words = validator_set_storage(vals).items()
    storage = {int(k, 16): bytes.fromhex(v.removeprefix("0x")) for k, v in words}
    assert int.from_bytes(storage[VALIDATOR_EXTRA_SET_SLOT], "big") == 2
    base = int.from_bytes(keccak(VALIDATOR_EXTRA_SET_SLOT.to_bytes(32, "big")), "big")
    for i, v in enumerate(vals):
        vote = base + i * VALIDATOR_EXTRA_SLOTS + 2
        assert int.from_bytes(storage[vote], "big") == 48 * 2 + 1  # a long `bytes`: length * 2 + 1
        data = int.from_bytes(keccak(vote.to_bytes(32, "big")), "big")
        assert (storage[data] + storage[data + 1])[:48] == v.bls_public_key
        assert storage[data + 1][16:] == bytes(16)


def test_system_reward_lists_the_validator_set_and_slash_contracts_as_operators() -> None:
    storage = system_reward_storage()

    def operator(address: str) -> bool:
        key = keccak(to_canonical_address(address).rjust(32, b"\0") + (2).to_bytes(32, "big"))
        return int(storage.get("0x" + key.hex(), "0x0"), 16) == 1

    assert operator("0x0000000000000000000000000000000000001000")
    assert operator("0x0000000000000000000000000000000000001001")
    assert not operator("0x" + "22" * 20)
    assert int(storage["0x" + bytes(32).hex()], 16) == 1  # alreadyInit


def test_genesis_has_chapels_rules_from_block_1_and_the_profiles_chain() -> None:
    profile = BscProfile(prefunded_accounts=20)
    vals = validators(1)
    genesis = build_bsc_genesis(
        profile, chapel_genesis(bsc_path()), chapel_code(), vals, 1_800_000_000, funded=[vals[0].address]
    )
    config = genesis["config"]
    assert config["chainId"] == 714 and "parlia" in config
    blocks = {k: v for k, v in config.items() if k.endswith("Block")}
    times = {k: v for k, v in config.items() if k.endswith("Time")}
    assert blocks and set(blocks.values()) == {0}
    assert {"lorentzTime", "maxwellTime", "fermiTime", "osakaTime"} <= set(times)
    assert set(times.values()) == {1_800_000_001}
    assert int(genesis["timestamp"], 16) == 1_800_000_000
    assert genesis["extraData"] == "0x" + extra_data(vals).hex()
    assert int(genesis["gasLimit"], 16) == profile.block_gas_limit and genesis["baseFeePerGas"] == "0x0"
    alloc = genesis["alloc"]
    assert init_validators(bytes.fromhex(alloc[VALIDATOR_CONTRACT]["code"][2:])) == [vals[0].address]
    assert alloc[SYSTEM_REWARD_CONTRACT]["storage"] == system_reward_storage()
    funded = {a for a, v in alloc.items() if int(v["balance"], 16) == profile.prefund_wei}
    assert {a.address.lower() for a in derive_accounts(profile.mnemonic, 0, 20)} <= funded
    assert vals[0].address.lower() in funded


def test_validator_key_is_outside_the_test_accounts() -> None:
    profile = BscProfile()
    expected = derive_account(profile.mnemonic, VALIDATOR_ACCOUNT_INDEX)
    assert validator_account(profile).address == expected.address
    assert BscProfile.model_fields["prefunded_accounts"].default * 100 < VALIDATOR_ACCOUNT_INDEX


def test_bls_public_keys_are_read_from_bscs_colored_listing() -> None:
    key = "ab" * 48
    out = (  # as bsc v1.7.8 prints it
        "(keymanager kind) \x1b[1;92mimported wallet\x1b[0m\n\nShowing \x1b[93m1\x1b[0m BLS account\n\n"
        "\x1b[1;94mAccount 0\x1b[0m | \x1b[1;92mcarefully-suitable-jaguar\x1b[0m\n"
        f"\x1b[1;95m[BLS public key]\x1b[0m 0x{key}\n\n"
    )
    assert bls_public_keys(out) == [bytes.fromhex(key)]
