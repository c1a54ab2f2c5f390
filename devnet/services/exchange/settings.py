"""The exchange's settings and the per-network config (Binance capital config) it keeps.

Amounts are integers in token base units; in the store and in settings they are decimal strings
or JSON integers (`devnet.core.wire.Amount`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from devnet.core.wire import UINT256_MAX, Amount
from devnet.services.common.settings import ServiceSettings
from devnet.services.exchange.api import ADDRESS_REGEX, NetworkPatch

#: BIP-39's well-known test vector: never holds real value, and differs from the devnet's
#: mnemonic, so the exchange's hot wallet and deposit addresses are not devnet test accounts.
DEFAULT_MNEMONIC = (
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
)


class NetworkConfig(BaseModel):
    """One token's network config, as Binance's capital config names it (amounts in base units)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    deposit_enable: bool = Field(default=True, alias="depositEnable")
    withdraw_enable: bool = Field(default=True, alias="withdrawEnable")
    #: Kept by the exchange: the user is debited `amount`, the recipient gets `amount - withdrawFee`.
    withdraw_fee: Amount = Field(default=0, alias="withdrawFee")
    withdraw_min: Amount = Field(default=1, alias="withdrawMin")
    withdraw_max: Amount = Field(default=UINT256_MAX, alias="withdrawMax")
    withdraw_integer_multiple: Amount = Field(default=1, alias="withdrawIntegerMultiple")
    #: Deposits below this are recorded as dust and never credited.
    deposit_dust: Amount = Field(default=0, alias="depositDust")
    #: Confirmations to credit (the deposit's own block counts as the first).
    min_confirm: int = Field(default=5, alias="minConfirm")
    #: Confirmations to unlock (make the credit withdrawable).
    unlock_confirm: int = Field(default=15, alias="unLockConfirm")
    address_regex: str = Field(default=ADDRESS_REGEX, alias="addressRegex")

    def problems(self) -> list[tuple[str, str]]:
        """(alias of the field at fault, why) for every inconsistency; empty if valid."""
        out: list[tuple[str, str]] = []
        if self.withdraw_integer_multiple < 1:
            out.append(("withdrawIntegerMultiple", "must be at least 1"))
        if self.withdraw_min > self.withdraw_max:
            out.append(("withdrawMin", "must not exceed withdrawMax"))
        if self.withdraw_min <= self.withdraw_fee:
            out.append(("withdrawMin", "must exceed withdrawFee (the recipient gets amount - fee)"))
        if self.unlock_confirm < self.min_confirm:
            out.append(("unLockConfirm", "must be at least minConfirm"))
        try:
            re.compile(self.address_regex)
        except re.error as e:
            out.append(("addressRegex", f"not a regular expression: {e}"))
        return out

    def merged(self, patch: NetworkPatch) -> NetworkConfig:
        changes = patch.model_dump(exclude_none=True)
        return self.model_copy(update=changes)

    def stored(self) -> dict[str, Any]:
        """JSON for the store and the API: camelCase, amounts as decimal strings."""
        data = self.model_dump(by_alias=True)
        for key in ("withdrawFee", "withdrawMin", "withdrawMax", "withdrawIntegerMultiple", "depositDust"):
            data[key] = str(data[key])
        return data


class ExchangeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="forbid", env_nested_delimiter="__")

    webhook_secret: str = "whsec_devnet_exchange"
    rpc_url: str = "http://127.0.0.1:8545"
    #: None: asked from the node at start.
    chain_id: int | None = None
    gas_price_wei: int = Field(default=50_000_000, gt=0)
    #: Hot wallet = index 0, deposit addresses = index 1, 2, ... (m/44'/60'/0'/0/i).
    mnemonic: str = DEFAULT_MNEMONIC
    #: Who pays gas (BNB) for sweeps and tops up the hot wallet: a hex private key, or an index
    #: into `gas_funder_mnemonic` (default: the exchange's mnemonic). Neither: the hot wallet pays.
    gas_funder_key: str = ""
    gas_funder_index: int | None = Field(default=None, ge=0)
    gas_funder_mnemonic: str = ""
    #: With a gas funder: top the hot wallet up by `hot_wallet_topup_wei` when it falls below this.
    hot_wallet_min_bnb_wei: int = Field(default=10**17, ge=0)
    hot_wallet_topup_wei: int = Field(default=10**18, ge=0)
    #: Listed tokens: symbol -> contract address.
    tokens: dict[str, str] = {}  # noqa: RUF012 - pydantic copies defaults
    #: Per-token network config overrides (camelCase fields of GET /networks), applied when the
    #: token is first seen; afterwards PUT /admin/networks/{symbol} changes it (kept in the store).
    networks: dict[str, NetworkPatch] = {}  # noqa: RUF012
    min_confirm: int = Field(default=5, ge=1)
    unlock_confirm: int = Field(default=15, ge=1)
    #: When the exchange's own transactions (withdrawals, sweeps, gas top-ups) count as done:
    #: None = at the node's `finalized` block; N = after N confirmations (a node without
    #: finality). Until then a reorg may take one out, and it is sent again.
    finality_confirmations: int | None = Field(default=None, ge=1)
    network_name: str = "BSC"
    #: First block the watcher scans on a fresh store; None: the head at first start.
    start_block: int | None = Field(default=None, ge=0)
    #: Blocks re-checked for reorgs on every tick: at least max(unLockConfirm) + 1.
    reorg_window: int = Field(default=32, ge=2)
    max_blocks_per_tick: int = Field(default=200, ge=1)
    poll_interval_s: float = Field(default=0.25, gt=0)
    #: > 0: sweep every deposit address holding tokens this often; 0: only POST /admin/sweeps.
    auto_sweep_interval_s: float = Field(default=0.0, ge=0)
    #: Listing checks that are reported but do not fail a review.
    listing_optional_checks: list[str] = []  # noqa: RUF012
    #: Fault injection for crash tests: the process exits hard at this point ("withdrawal.signed":
    #: after the signed withdrawal is stored, before it is broadcast).
    crash_point: str = ""

    def default_network(self, symbol: str) -> NetworkConfig:
        base = NetworkConfig.model_validate(
            {"minConfirm": self.min_confirm, "unLockConfirm": max(self.unlock_confirm, self.min_confirm)}
        )
        patch = self.networks.get(symbol)
        return base.merged(patch) if patch else base
