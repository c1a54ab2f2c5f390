"""Attestations signed with the custodian's secp256k1 key (EIP-191 personal_sign), so anyone can
recover the signer with `Account.recover_message(encode_defunct(text=message), signature=...)`.

The message is canonical: built from the attested fields alone, one `key=value` a line.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct

MESSAGE_HEADER = "gold-custody-attestation/v1"
#: A fixed, public test key (sha256 of "devnet gold custodian attestation key"). Test use only.
DEFAULT_SIGNING_KEY = "0x16ceccf4d0129d6c959f4fb46866000dd58c8d50063987c3f83105e65db5fa6d"


def attestation_message(pool: str, total_fine_oz_milli: int, bar_count: int, as_of: int) -> str:
    return "\n".join(
        [
            MESSAGE_HEADER,
            f"pool={pool}",
            f"total_fine_oz_milli={total_fine_oz_milli}",
            f"bar_count={bar_count}",
            f"as_of={as_of}",
        ]
    )


def recover_signer(message: str, signature: str) -> str:
    address: str = Account.recover_message(encode_defunct(text=message), signature=signature)
    return address


class Signer:
    def __init__(self, private_key: str):
        self._account = Account.from_key(private_key)
        self.address: str = self._account.address

    def sign(self, message: str) -> str:
        signed = self._account.sign_message(encode_defunct(text=message))
        return "0x" + bytes(signed.signature).hex()
