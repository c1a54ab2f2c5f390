"""The issuer service's settings: its Input as a component (what `devnet up` wires and a
container receives as ISSUER_* environment variables), importable without loading the service."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from devnet.services.common.settings import ServiceSettings


class IssuerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ISSUER_", extra="forbid", env_nested_delimiter="__")

    webhook_secret: str = "whsec_devnet_issuer"
    #: The devnet's environment file: chain, contracts, mnemonic (minter and reporter keys).
    env_file: Path = Path(".devnet/env.json")
    bank_url: str = ""
    custodian_url: str = ""
    #: The URL the bank calls back (default: http://<host>:<port>).
    public_url: str = ""
    inbound_webhook_secrets: dict[str, str] = {  # noqa: RUF012
        "bank": "whsec_devnet_bank",
        "custodian": "whsec_devnet_custodian",
    }
    #: Only attestations signed by this address are reported (empty: not checked).
    custodian_signer: str = ""
    issuer_name: str = "Virtual Asset Issuer OJSC"
    minter_count: int = Field(default=4, ge=1, le=4)
    gas_per_mint: int = 250_000
    mint_batch: int = 200
    mint_interval_s: float = 0.2
    #: At least this long between two mint ticks, however many bank credits poke the worker:
    #: credits that arrive meanwhile go out in one batch (one chain read, one write, one send)
    #: instead of a tick each. Small beside a block period.
    mint_min_gap_s: float = Field(default=0.1, ge=0.0)
    redeem_interval_s: float = 0.5
    #: When money is final: None = at the node's `finalized` block (BSC fast finality; the
    #: devnet's geth and anvil both keep it two blocks behind the head); N = after N
    #: confirmations, for a node without finality. Payouts and `minted` wait for it.
    confirmations: int | None = Field(default=None, ge=1)
    report_interval_s: float = 5.0
