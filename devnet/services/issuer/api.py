"""The issuer's published contract: its request bodies, its answers and the data of the webhook
events it emits, as the service's routes use them and its client (`client.IssuerClient`) reads
them. Importing this module loads pydantic and the core only, never the service.

Token amounts are `int` in Python and decimal strings in JSON (`devnet.core.wire.BaseUnits`);
fiat amounts are integers of minor units (tyiyn, cents).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from devnet.core.wire import BaseUnits, MinorUnits


class MintStatus(StrEnum):
    """queued -> sent -> included -> minted | failed; held: no valid (or a blacklisted) wallet.

    `included`: in a block that is not final yet (a reorg may take it out, and it goes back to
    `sent`); `minted` and `failed` only once its block is final."""

    QUEUED = "queued"
    SENT = "sent"
    INCLUDED = "included"
    MINTED = "minted"
    FAILED = "failed"
    HELD = "held"


class RedemptionStatus(StrEnum):
    """pending (its block is final, the payout not made yet) -> paid | failed; reorged: its block
    left the chain before the payout (only where finality is N confirmations)."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REORGED = "reorged"


#: A mint in one of these has its outcome: it changes no more. A long poll on a mint
#: (`GET /mints/by-payment/{payment_id}?wait=...`) answers as soon as the mint is in one.
MINT_SETTLED = (MintStatus.MINTED, MintStatus.FAILED, MintStatus.HELD)

#: A redemption out of `pending`: paid, failed, or reorged (void; pending again only if its
#: transaction is included again). A long poll on a transaction's redemptions
#: (`GET /redemptions/by-tx/{tx_hash}?wait=...`) answers once it has some and all are in one.
REDEMPTION_SETTLED = (RedemptionStatus.PAID, RedemptionStatus.FAILED, RedemptionStatus.REORGED)

#: The longest `wait` a long poll may ask for, in seconds.
MAX_WAIT_S = 30


class MintRequestStatus(StrEnum):
    """A USDKG mint request is answered only once it is paid: then the mint is queued."""

    ACCEPTED = "accepted"


class IssuerEvent(StrEnum):
    """The webhook events the issuer emits; the data of each is a `MintOut`."""

    #: a bank credit naming a wallet: its mint is queued
    MINT_QUEUED = "mint.queued"
    #: a bank credit naming no valid wallet: held in the reserve, listed for follow-up
    MINT_HELD = "mint.held"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- requests ------------------------------------------------------------------------------


class UsdkgMintRequestIn(_Model):
    """An institutional (KYC tier T3) customer buys USDKG with USD from its bank account."""

    customer_account: str = Field(pattern=r"^\d{16}$")
    wallet: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    amount_cents: MinorUnits


# ---- answers -------------------------------------------------------------------------------


class MintOut(_Model):
    id: int
    source_ref: str = Field(description='what caused it: "bank:<payment id>" or "usdkg:<request id>"')
    token: str
    wallet: str | None
    fiat_amount: int = Field(description="fiat minor units received (tyiyn, cents)")
    amount: BaseUnits = Field(description="token base units to mint, a decimal string")
    status: MintStatus = Field(
        description="queued -> sent -> included -> minted | failed; held: no valid (or a blacklisted) "
        "wallet. included: in a block that is not final yet; minted and failed only on a final block"
    )
    reason: str | None
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None = Field(default=None, description="the block it is (or was) included in")
    bank_payment_id: str | None
    attempts: int


class RedemptionOut(_Model):
    id: int
    token: str
    tx_hash: str
    log_index: int
    redemption_id: int = Field(description="the id in the token's Redeemed event")
    holder: str
    amount: BaseUnits = Field(description="token base units burned, a decimal string")
    payout_ref: str = Field(description="where to pay, from the Redeemed event (e.g. a bank account)")
    payout_amount: int = Field(description="fiat minor units paid out")
    status: RedemptionStatus = Field(
        description="pending (its block is final, the payout not made yet) -> paid | failed; "
        "reorged: its block left the chain before the payout (only with N-confirmation finality)"
    )
    reason: str | None
    bank_payment_id: str | None
    block_number: int = Field(description="the final block its Redeemed event is in")
    block_hash: str | None = None


class MintRequestAccepted(_Model):
    id: str
    status: MintRequestStatus = Field(description='"accepted": paid, and the mint is queued')
    mint_id: int
    bank_payment_id: str


class IssuerInfo(_Model):
    """How the issuer decides that money is final, and how far its redemption scan got."""

    #: "finalized tag" (the node's `finalized` block) or "N confirmations"
    finality: str
    confirmations: int | None
    #: the last final block scanned for `Redeemed` events; -1 before the first
    scanned_block: int


class TokenReserve(_Model):
    supply: BaseUnits = Field(description="total supply in base units, a decimal string")
    decimals: int
    max_supply: BaseUnits | None = Field(
        default=None, description="what the reserve policy allows now (absent while minting is halted)"
    )
    halted: str | None = Field(default=None, description="why minting is halted (the policy's revert reason)")


class WebhookAck(_Model):
    """The answer to a webhook delivery: one of the two is set."""

    accepted: bool | None = Field(default=None, description="processed now")
    duplicate: bool | None = Field(default=None, description="already processed: nothing done")
