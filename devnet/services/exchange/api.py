"""The exchange's published contract: its request bodies, its answers and the data of the webhook
events it emits, as the service's routes use them and its client (`client.ExchangeClient`)
reads them. Importing this module loads pydantic and the core only, never the service.

Amounts are token base units: `int` in Python; in JSON, answers carry them as decimal strings
(`devnet.core.wire.BaseUnits`) and requests take a decimal string or a JSON integer
(`devnet.core.wire.Amount`). Timestamps are RFC 3339 with their UTC offset. The networks speak
Binance's capital config (camelCase on the wire, snake_case in Python).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from devnet.core.wire import MAX_DB_INT, Amount, BaseUnits, SignedBaseUnits, Timestamp

#: Binance's addressRegex for BSC (BEP-20).
ADDRESS_REGEX = r"^(0x)[0-9A-Fa-f]{40}$"


class DepositStatus(StrEnum):
    """pending (< minConfirm) -> credited (locked) -> unlocked (available); dust (below
    depositDust, never credited); reversed (its block was reorganised away; a reversed deposit
    whose transaction is mined again comes back, same id)."""

    PENDING = "pending"
    CREDITED = "credited"
    UNLOCKED = "unlocked"
    DUST = "dust"
    REVERSED = "reversed"


class WithdrawalStatus(StrEnum):
    """processing -> completed (its transaction in a final block) | failed (balance restored)."""

    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class TransferStatus(StrEnum):
    """An internal transfer is booked at once, off chain."""

    COMPLETED = "completed"


class SweepStatus(StrEnum):
    """queued -> gas_pending (BNB top-up sent) -> gas_funded -> transfer_pending -> completed;
    or failed. An address with gas already skips the top-up."""

    QUEUED = "queued"
    GAS_PENDING = "gas_pending"
    GAS_FUNDED = "gas_funded"
    TRANSFER_PENDING = "transfer_pending"
    COMPLETED = "completed"
    FAILED = "failed"


class ExchangeEvent(StrEnum):
    """The webhook events the exchange emits; `EVENT_DATA` names the model of each one's data."""

    NETWORK_STATUS_CHANGED = "network.status_changed"
    NETWORK_UPDATED = "network.updated"
    DEPOSIT_PENDING = "deposit.pending"
    DEPOSIT_CREDITED = "deposit.credited"
    DEPOSIT_UNLOCKED = "deposit.unlocked"
    DEPOSIT_REVERSED = "deposit.reversed"
    WITHDRAWAL_PROCESSING = "withdrawal.processing"
    WITHDRAWAL_COMPLETED = "withdrawal.completed"
    WITHDRAWAL_FAILED = "withdrawal.failed"
    INTERNAL_TRANSFER_COMPLETED = "internal_transfer.completed"
    SWEEP_COMPLETED = "sweep.completed"
    SWEEP_FAILED = "sweep.failed"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Binance(BaseModel):
    """Binance's field names on the wire (camelCase), Python's in code (snake_case)."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
    )


# ---- requests ------------------------------------------------------------------------------


class ReviewIn(_Model):
    token_address: str = Field(pattern=ADDRESS_REGEX, description="the BEP-20 contract to review")


class UserIn(_Model):
    name: str = Field(min_length=1, max_length=140)


class DepositAddressIn(_Model):
    token: str = Field(min_length=1, max_length=20)


class WithdrawalIn(_Model):
    user_id: str
    token: str = Field(min_length=1, max_length=20)
    address: str = Field(max_length=200)
    amount: Amount = Field(
        description="base units debited from the user; the recipient gets amount - withdrawFee"
    )


class InternalTransferIn(_Model):
    from_user_id: str
    to_user_id: str
    token: str = Field(min_length=1, max_length=20)
    amount: Amount


class RescanIn(_Model):
    from_block: int = Field(
        ge=0, le=MAX_DB_INT, description="scan again from this block (deposits already seen are kept)"
    )


class SweepIn(_Model):
    token: str | None = Field(default=None, description="only this token's deposit addresses")


class NetworkPatch(BaseModel):
    """Some fields of a token's network config: per-token settings, and PUT /admin/networks."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    deposit_enable: bool | None = Field(default=None, alias="depositEnable")
    withdraw_enable: bool | None = Field(default=None, alias="withdrawEnable")
    withdraw_fee: Amount | None = Field(default=None, alias="withdrawFee")
    withdraw_min: Amount | None = Field(default=None, alias="withdrawMin")
    withdraw_max: Amount | None = Field(default=None, alias="withdrawMax")
    withdraw_integer_multiple: Amount | None = Field(default=None, alias="withdrawIntegerMultiple")
    deposit_dust: Amount | None = Field(default=None, alias="depositDust")
    min_confirm: int | None = Field(default=None, alias="minConfirm", ge=1, le=10_000)
    unlock_confirm: int | None = Field(default=None, alias="unLockConfirm", ge=1, le=10_000)
    address_regex: str | None = Field(default=None, alias="addressRegex", min_length=1, max_length=200)


# ---- listing reviews -----------------------------------------------------------------------


class ReviewCheck(_Model):
    name: str
    passed: bool
    detail: str
    required: bool = Field(description="a failed required check fails the review")


class Capabilities(_Model):
    """What the token can do, as the review found it."""

    pause: bool = Field(description="it has paused()")
    blacklist: bool = Field(description="it has isBlacklisted(address)")
    transfer_fee: bool = Field(description="it has transferFeeBps()")
    transfer_fee_bps: int | None = Field(description="its transfer fee now; null without transferFeeBps()")
    mint_events: bool = Field(description="its history has Mint events")
    simulation: bool = Field(description="a transfer could be simulated from a holder")
    holders_seen: int = Field(description="addresses that received the token")


class NoCapabilities(_Model):
    """An address without contract code: nothing was probed (an empty object)."""


class ReviewOut(_Model):
    id: str
    token_address: str
    passed: bool = Field(description="every required check passed")
    block_number: int = Field(description="the head the checks ran at")
    checks: list[ReviewCheck]
    capabilities: Capabilities | NoCapabilities
    created_at: Timestamp


# ---- networks ------------------------------------------------------------------------------


class ConfiguredSwitches(_Binance):
    deposit_enable: bool
    withdraw_enable: bool


class NetworkOut(_Binance):
    """One token's network, in Binance's capital config fields, with the switches in effect."""

    coin: str
    network: str
    chain_id: int
    contract_address: str
    decimals: int | None
    deposit_enable: bool = Field(description="in effect: configured and the token not paused")
    withdraw_enable: bool = Field(
        description="in effect: configured, the token not paused, the hot wallet not blacklisted"
    )
    withdraw_fee: BaseUnits
    withdraw_min: BaseUnits
    withdraw_max: BaseUnits
    withdraw_integer_multiple: BaseUnits
    deposit_dust: BaseUnits
    min_confirm: int
    unlock_confirm: int = Field(validation_alias="unLockConfirm", serialization_alias="unLockConfirm")
    address_regex: str
    status: str = Field(description='"normal", or why deposits or withdrawals are off')
    configured: ConfiguredSwitches = Field(description="the switches as the admin set them")
    paused: bool
    hot_wallet_blacklisted: bool
    state_block: int | None = Field(description="the block paused/blacklisted were read at")
    state_checked_at: Timestamp | None
    state_error: str | None


class NetworkList(_Binance):
    chain_id: int
    networks: list[NetworkOut]


# ---- users ---------------------------------------------------------------------------------


class UserOut(_Model):
    id: str
    name: str
    created_at: Timestamp


class UserDetail(UserOut):
    deposit_addresses: dict[str, str] = Field(description="token -> the user's deposit address")


class AddressOut(_Model):
    user_id: str
    token: str
    address: str
    created_at: Timestamp


class AddressList(_Model):
    user_id: str
    addresses: list[AddressOut]


class TokenBalance(_Model):
    available: BaseUnits = Field(description="withdrawable")
    locked: BaseUnits = Field(description="credited deposits waiting for unLockConfirm")
    pending: BaseUnits = Field(description="deposits seen, not yet at minConfirm")


class Balances(_Model):
    user_id: str
    balances: dict[str, TokenBalance] = Field(description="per listed token")


# ---- deposits ------------------------------------------------------------------------------


class DepositOut(_Model):
    id: str
    user_id: str
    token: str
    address: str
    from_: str = Field(validation_alias="from", serialization_alias="from")
    chain_id: int
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str
    value: BaseUnits = Field(description="what the Transfer log says arrived")
    amount: BaseUnits = Field(description="what is credited")
    status: DepositStatus = Field(
        description="pending -> credited -> unlocked; dust; reversed (its block was reorganised away)"
    )
    confirmations: int
    reversals: int
    created_at: Timestamp
    credited_at: Timestamp | None
    unlocked_at: Timestamp | None
    reversed_at: Timestamp | None


class DepositReversed(DepositOut):
    """The data of deposit.reversed: the deposit, and what it was before its block left the chain."""

    previous_status: DepositStatus


class UserDeposits(_Model):
    user_id: str
    deposits: list[DepositOut]


class DepositList(_Model):
    deposits: list[DepositOut]


# ---- withdrawals, transfers, sweeps --------------------------------------------------------


class WithdrawalOut(_Model):
    id: str
    user_id: str
    token: str
    address: str
    amount: BaseUnits = Field(description="debited from the user")
    fee: BaseUnits
    net_amount: BaseUnits = Field(description="what the recipient receives: amount - fee")
    status: WithdrawalStatus = Field(
        description="processing -> completed (its transaction in a final block) | failed (balance restored)"
    )
    tx_hash: str | None
    block_number: int | None
    failure_reason: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class TransferOut(_Model):
    id: str
    from_user_id: str
    to_user_id: str
    token: str
    amount: BaseUnits
    status: TransferStatus
    created_at: Timestamp


class SweepOut(_Model):
    id: str
    token: str
    address: str
    status: SweepStatus
    amount: BaseUnits | None = Field(description="the balance moved (read when the transfer is signed)")
    received: BaseUnits | None = Field(description="what the hot wallet received")
    gas_topup_wei: BaseUnits | None
    gas_tx_hash: str | None
    tx_hash: str | None
    failure_reason: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class SweepSkipped(_Model):
    address: str
    token: str
    reason: str


class SweepsCreated(_Model):
    sweeps: list[SweepOut]
    skipped: list[SweepSkipped] = Field(description="deposit addresses holding tokens that were not swept")


class SweepList(_Model):
    sweeps: list[SweepOut]


# ---- ops -----------------------------------------------------------------------------------


class TokenBooks(_Model):
    liabilities: BaseUnits = Field(description="user_balances + withdrawals_in_flight")
    holdings: BaseUnits = Field(description="balanceOf the hot wallet and every deposit address")
    user_balances: BaseUnits
    withdrawals_in_flight: BaseUnits
    surplus: SignedBaseUnits = Field(description="holdings - liabilities; negative: the exchange is short")


class Reconciliation(_Model):
    block: int
    last_processed_block: int | None
    tokens: dict[str, TokenBooks]
    credited_deposits: int
    duplicate_deposits: list[str] = Field(description="deposits whose ledger entries do not add up")


class Rescan(_Model):
    from_block: int
    previous_last_block: int


class ExchangeInfo(_Model):
    chain_id: int
    network: str
    hot_wallet: str
    gas_funder: str
    last_block: int | None = Field(description="the last block the watcher processed")
    watcher_ticks: int
    tokens: dict[str, str] = Field(description="symbol -> contract address")


#: The model of each event's `data`.
EVENT_DATA: dict[ExchangeEvent, type[BaseModel]] = {
    ExchangeEvent.NETWORK_STATUS_CHANGED: NetworkOut,
    ExchangeEvent.NETWORK_UPDATED: NetworkOut,
    ExchangeEvent.DEPOSIT_PENDING: DepositOut,
    ExchangeEvent.DEPOSIT_CREDITED: DepositOut,
    ExchangeEvent.DEPOSIT_UNLOCKED: DepositOut,
    ExchangeEvent.DEPOSIT_REVERSED: DepositReversed,
    ExchangeEvent.WITHDRAWAL_PROCESSING: WithdrawalOut,
    ExchangeEvent.WITHDRAWAL_COMPLETED: WithdrawalOut,
    ExchangeEvent.WITHDRAWAL_FAILED: WithdrawalOut,
    ExchangeEvent.INTERNAL_TRANSFER_COMPLETED: TransferOut,
    ExchangeEvent.SWEEP_COMPLETED: SweepOut,
    ExchangeEvent.SWEEP_FAILED: SweepOut,
}
