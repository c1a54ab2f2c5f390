"""The chain client's calldata (selector + eth_abi, the ABI looked up once) is byte-identical to
web3's `encode_abi` for every function of every committed contract, and bad arguments still
fail as web3 fails them."""

from __future__ import annotations

import random
from typing import Any

import pytest
from eth_utils import to_checksum_address

from devnet.core.artifacts import artifact_names, load_artifact
from devnet.core.chain import Chain

ADDRESS = "0x" + "11" * 20


def offline_chain() -> Chain:
    """A client that never reaches a node: encoding needs none."""
    return Chain("http://127.0.0.1:9", gas_price=1, chain_id=714)


def value_of(abi_type: str, rng: random.Random) -> Any:
    if abi_type.endswith("[]"):
        return [value_of(abi_type[:-2], rng) for _ in range(rng.randrange(0, 4))]
    if abi_type == "address":
        return to_checksum_address(rng.randbytes(20))
    if abi_type == "bool":
        return rng.random() < 0.5
    if abi_type == "string":
        return "".join(rng.choice("abc KGS 1") for _ in range(rng.randrange(0, 40)))
    if abi_type == "bytes":
        return rng.randbytes(rng.randrange(0, 70))
    if abi_type.startswith("bytes"):
        return rng.randbytes(int(abi_type[5:]))
    if abi_type.startswith("uint"):
        return rng.randrange(0, 2 ** int(abi_type[4:] or 256))
    if abi_type.startswith("int"):
        bits = int(abi_type[3:] or 256)
        return rng.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1))
    raise NotImplementedError(abi_type)


def functions() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name in artifact_names():
        for entry in load_artifact(name)["abi"]:
            if entry["type"] == "function" and all("tuple" not in i["type"] for i in entry["inputs"]):
                found.append((name, entry))
    return found


def test_every_function_encodes_as_web3_does() -> None:
    chain, rng = offline_chain(), random.Random(11)
    checked = 0
    for name, entry in functions():
        contract = chain.contract(name, ADDRESS)
        for _ in range(5):
            args = [value_of(i["type"], rng) for i in entry["inputs"]]
            expected = contract.encode_abi(entry["name"], args=args)
            assert "0x" + chain.encode_call(contract, entry["name"], *args).hex() == expected, entry["name"]
            checked += 1
    assert checked > 100  # the committed contracts have dozens of functions


def test_bad_arguments_fail_as_web3_fails_them() -> None:
    chain = offline_chain()
    token = chain.contract("StableCoin", ADDRESS)
    bad_checksum = "0x" + "aB" * 20
    for args in [(bad_checksum, 1), (ADDRESS, -1), (ADDRESS,)]:
        with pytest.raises(Exception) as ours:
            chain.encode_call(token, "transfer", *args)
        with pytest.raises(Exception) as theirs:
            token.encode_abi("transfer", args=list(args))
        assert type(ours.value) is type(theirs.value)
