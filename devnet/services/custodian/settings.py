"""The custodian service's settings: its Input as a component (what `devnet up` wires and a
container receives as CUSTODIAN_* environment variables), importable without loading the service."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from devnet.core.attestation import DEFAULT_SIGNING_KEY
from devnet.services.common.settings import ServiceSettings
from devnet.services.custodian.api import (
    POOL_PATTERN,
    ConstantPath,
    PricePath,
)


class CustodianSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTODIAN_", extra="forbid", env_nested_delimiter="__")

    webhook_secret: str = "whsec_devnet_custodian"
    custodian_name: str = "Devnet Gold Vault"
    #: secp256k1 key attestations are signed with (hex); the default is a public test key.
    signing_key: str = Field(default=DEFAULT_SIGNING_KEY, pattern=r"^(0x)?[0-9a-fA-F]{64}$")
    #: token pools bars can be allocated to
    pools: list[Annotated[str, Field(pattern=POOL_PATTERN)]] = ["USDKG"]  # noqa: RUF012
    #: the XAU/USD path at the first start (and whenever this setting changes between starts);
    #: PUT /admin/price-path replaces it at runtime and the replacement survives restarts.
    price_path: PricePath = ConstantPath()
    #: seconds between price ticks; 0 = ticks only through POST /price/tick
    price_tick_interval_s: float = Field(default=1.0, ge=0)
    #: seconds between scheduled attestations of every pool; 0 = only on changes and requests
    attestation_interval_s: float = Field(default=0.0, ge=0)
