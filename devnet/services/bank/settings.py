"""The bank service's settings: its Input as a component (what `devnet up` wires and a
container receives as BANK_* environment variables), importable without loading the service."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from devnet.services.bank.api import Currency
from devnet.services.common.settings import ServiceSettings


class BankSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BANK_", extra="forbid", env_nested_delimiter="__")

    webhook_secret: str = "whsec_devnet_bank"
    bank_code: str = Field(default="103", pattern=r"^\d{3}$")
    bic: str = "MOCKKG22"
    #: KGS per USD x 1000 (87.4, Dec 2025), for tier limits and the Travel Rule threshold.
    kgs_per_usd_milli: int = Field(default=87_400, gt=0)
    #: KYC tier T1: at most USD 1,000 per transfer (in cents).
    t1_limit_usd_cents: int = 100_000
    #: Above this (FATF: USD/EUR 1,000) both parties' names must travel with the payment.
    travel_rule_threshold_usd_cents: int = 100_000
    #: Parties the bank refuses to deal with (names, case-insensitive).
    sanctions_list: list[str] = ["A7 LLC", "Old Vector LLC"]  # noqa: RUF012 - pydantic copies defaults
    issuer_name: str = "Virtual Asset Issuer OJSC"
    #: token -> currency of the issuer's segregated reserve account at this bank
    reserve_accounts: dict[str, Currency] = {"KGST": Currency.KGS, "USDKG": Currency.USD}  # noqa: RUF012
