"""The exchange's response bodies, as the OpenAPI schema describes them.

The answers are the dicts `core`'s views (`deposit_view`, `withdrawal_view`, ...), `reconcile`
and the treasury build; these models document them. Members added there pass through
(`extra="allow"`), and statuses are plain strings, so a new status or member needs no change
here to be answered (only to be documented). Amounts are decimal strings of base units;
timestamps are RFC 3339 strings in UTC, exactly as `core.iso` writes them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

#: Base units as a decimal string ("1000000000000000000000"): JSON numbers above 2^53 lose
#: precision in many clients.
AmountStr = Annotated[str, Field(pattern=r"^[0-9]+$", description="base units, a decimal string")]
#: A signed difference of amounts, as a decimal string.
SignedAmountStr = Annotated[str, Field(pattern=r"^-?[0-9]+$", description="base units, a decimal string")]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, description="RFC 3339, UTC")]


class _View(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# ---- listing reviews -----------------------------------------------------------------------


class ReviewCheck(_View):
    name: str
    passed: bool
    detail: str
    required: bool = Field(description="a failed required check fails the review")


class ReviewOut(_View):
    id: str
    token_address: str
    passed: bool = Field(description="every required check passed")
    block_number: int = Field(description="the head the checks ran at")
    checks: list[ReviewCheck]
    capabilities: dict[str, Any] = Field(
        description="what the token can do: pause, blacklist, transfer_fee (+ _bps), mint_events, "
        "simulation, holders_seen"
    )
    created_at: Timestamp


# ---- networks ------------------------------------------------------------------------------


class ConfiguredSwitches(_View):
    depositEnable: bool
    withdrawEnable: bool


class NetworkOut(_View):
    """One token's network, in Binance's capital config fields, with the switches in effect."""

    coin: str
    network: str
    chainId: int
    contractAddress: str
    decimals: int | None
    depositEnable: bool = Field(description="in effect: configured and the token not paused")
    withdrawEnable: bool = Field(
        description="in effect: configured, the token not paused, the hot wallet not blacklisted"
    )
    withdrawFee: AmountStr
    withdrawMin: AmountStr
    withdrawMax: AmountStr
    withdrawIntegerMultiple: AmountStr
    depositDust: AmountStr
    minConfirm: int
    unLockConfirm: int
    addressRegex: str
    status: str = Field(description='"normal", or why deposits or withdrawals are off')
    configured: ConfiguredSwitches = Field(description="the switches as the admin set them")
    paused: bool
    hotWalletBlacklisted: bool
    stateBlock: int | None = Field(description="the block paused/blacklisted were read at")
    stateCheckedAt: Timestamp | None
    stateError: str | None


class NetworkList(_View):
    chainId: int
    networks: list[NetworkOut]


# ---- users ---------------------------------------------------------------------------------


class UserOut(_View):
    id: str
    name: str
    created_at: Timestamp


class UserDetail(UserOut):
    deposit_addresses: dict[str, str] = Field(description="token -> the user's deposit address")


class AddressOut(_View):
    user_id: str
    token: str
    address: str
    created_at: Timestamp


class AddressList(_View):
    user_id: str
    addresses: list[AddressOut]


class TokenBalance(_View):
    available: AmountStr = Field(description="withdrawable")
    locked: AmountStr = Field(description="credited deposits waiting for unLockConfirm")
    pending: AmountStr = Field(description="deposits seen, not yet at minConfirm")


class Balances(_View):
    user_id: str
    balances: dict[str, TokenBalance] = Field(description="per listed token")


# ---- deposits ------------------------------------------------------------------------------


class DepositOut(_View):
    id: str
    user_id: str
    token: str
    address: str
    from_: str = Field(alias="from")
    chain_id: int
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str
    value: AmountStr = Field(description="what the Transfer log says arrived")
    amount: AmountStr = Field(description="what is credited")
    status: str = Field(
        description="pending -> credited -> unlocked; dust; reversed (its block was reorganised away)"
    )
    confirmations: int
    reversals: int
    created_at: Timestamp
    credited_at: Timestamp | None
    unlocked_at: Timestamp | None
    reversed_at: Timestamp | None


class UserDeposits(_View):
    user_id: str
    deposits: list[DepositOut]


class DepositList(_View):
    deposits: list[DepositOut]


# ---- withdrawals, transfers, sweeps --------------------------------------------------------


class WithdrawalOut(_View):
    id: str
    user_id: str
    token: str
    address: str
    amount: AmountStr = Field(description="debited from the user")
    fee: AmountStr
    net_amount: AmountStr = Field(description="what the recipient receives: amount - fee")
    status: str = Field(
        description="processing -> completed (its transaction in a final block) | failed (balance restored)"
    )
    tx_hash: str | None
    block_number: int | None
    failure_reason: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class TransferOut(_View):
    id: str
    from_user_id: str
    to_user_id: str
    token: str
    amount: AmountStr
    status: str
    created_at: Timestamp


class SweepOut(_View):
    id: str
    token: str
    address: str
    status: str
    amount: AmountStr | None
    received: AmountStr | None
    gas_topup_wei: AmountStr | None
    gas_tx_hash: str | None
    tx_hash: str | None
    failure_reason: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class SweepSkipped(_View):
    address: str
    token: str
    reason: str


class SweepsCreated(_View):
    sweeps: list[SweepOut]
    skipped: list[SweepSkipped] = Field(description="deposit addresses holding tokens that were not swept")


class SweepList(_View):
    sweeps: list[SweepOut]


# ---- ops -----------------------------------------------------------------------------------


class TokenBooks(_View):
    liabilities: AmountStr = Field(description="user_balances + withdrawals_in_flight")
    holdings: AmountStr = Field(description="balanceOf the hot wallet and every deposit address")
    user_balances: AmountStr
    withdrawals_in_flight: AmountStr
    surplus: SignedAmountStr = Field(description="holdings - liabilities; negative: the exchange is short")


class Reconciliation(_View):
    block: int
    last_processed_block: int | None
    tokens: dict[str, TokenBooks]
    credited_deposits: int
    duplicate_deposits: list[str] = Field(description="deposits whose ledger entries do not add up")


class Rescan(_View):
    from_block: int
    previous_last_block: int


class ExchangeInfo(_View):
    chain_id: int
    network: str
    hot_wallet: str
    gas_funder: str
    last_block: int | None = Field(description="the last block the watcher processed")
    watcher_ticks: int
    tokens: dict[str, str] = Field(description="symbol -> contract address")
