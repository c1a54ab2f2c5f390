"""Fast signing is byte-identical to eth-account's, and contract addresses follow the nonce."""

from __future__ import annotations

import random

import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from devnet.core.signing import FastSigner, create_address


def test_fast_signer_is_byte_identical_to_eth_account() -> None:
    rng = random.Random(7)
    for _ in range(50):
        account = Account.create()
        tx = {
            "nonce": rng.randrange(0, 2**32),
            "gasPrice": rng.randrange(0, 10**12),
            "gas": rng.randrange(21_000, 10**7),
            "to": to_checksum_address(rng.randbytes(20)),
            "value": rng.randrange(0, 10**24),
            "data": "0x" + rng.randbytes(rng.randrange(0, 200)).hex(),
            "chainId": rng.choice([56, 97, 714]),
        }
        expected = Account.sign_transaction(tx, account.key)
        ours = FastSigner(bytes(account.key)).sign(
            nonce=tx["nonce"],
            gas_price=tx["gasPrice"],
            gas=tx["gas"],
            to=bytes.fromhex(tx["to"][2:]),
            value=tx["value"],
            data=bytes.fromhex(tx["data"][2:]),
            chain_id=tx["chainId"],
        )
        assert ours.raw == bytes(expected.raw_transaction)
        assert ours.hash == bytes(expected.hash)


def test_create_address_is_keccak_of_rlp_sender_and_nonce() -> None:
    sender = "0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0"
    for nonce in (0, 1, 127, 128, 1_000_000):
        expected = keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:]
        assert create_address(sender, nonce).lower() == "0x" + expected.hex()
    # the well-known first two contracts of this sender (Ethereum yellow paper examples)
    assert create_address(sender, 0).lower() == "0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"
    assert create_address(sender, 1).lower() == "0x343c43a37d37dff08ae8c4a11544c718abb4fcf8"
