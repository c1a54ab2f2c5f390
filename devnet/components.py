"""One definition per service component: how to run it, which port it serves, how to tell it is
ready, which image holds it, and what it needs from the components before it. Every runtime
(local processes, docker containers) starts components from these definitions; a component
given a URL in the config is external and not started at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devnet.core.accounts import ROLE_LAYOUT
from devnet.core.env import DevnetEnv

SERVICES_IMAGE = "bsc-stablecoin-devnet/services:local"
NODE_IMAGE = {"geth": "bsc-stablecoin-devnet/geth:v1.17.4", "anvil": "bsc-stablecoin-devnet/anvil:1.7.1"}


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    summary: str
    depends_on: tuple[str, ...] = ()
    #: The port inside a container; a local process gets a free port instead.
    container_port: int = 8000
    readiness_path: str = "/health"
    image: str = SERVICES_IMAGE

    @property
    def env_prefix(self) -> str:
        """Settings reach the service as environment variables with this prefix."""
        return f"{self.name.upper()}_"

    def argv(self, python: str, host: str, port: int, data_dir: str) -> list[str]:
        return [
            python,
            "-m",
            f"devnet.services.{self.name}",
            "--host",
            host,
            "--port",
            str(port),
            "--data-dir",
            data_dir,
        ]

    def environment(self, settings: dict[str, Any]) -> dict[str, str]:
        return {
            f"{self.env_prefix}{key.upper()}": value if isinstance(value, str) else json.dumps(value)
            for key, value in settings.items()
        }


#: In start order.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("bank", "mock commercial bank (KGS, USD)"),
    ServiceSpec("custodian", "gold vault: bars, attestations, XAU/USD"),
    ServiceSpec(
        "issuer", "reference issuer: mints, redemptions, reserve reports", depends_on=("bank", "custodian")
    ),
    ServiceSpec("exchange", "exchange-listing simulator"),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)
SPECS = {s.name: s for s in SERVICES}


def service_settings(
    name: str,
    env: DevnetEnv,
    urls: dict[str, str],
    *,
    env_file: str,
    rpc_url: str | None = None,
    custodian_signer: str = "",
) -> dict[str, Any]:
    """What `name` needs to know about the rest of the world. `rpc_url` is the node as the
    service reaches it (inside a docker network it differs from the host's URL)."""
    rpc = rpc_url or env.rpc_url
    if name == "issuer":
        return {
            "env_file": env_file,
            "bank_url": urls.get("bank", ""),
            "custodian_url": urls.get("custodian", ""),
            "custodian_signer": custodian_signer,
        }
    if name == "exchange":
        return {
            "rpc_url": rpc,
            "chain_id": env.chain_id,
            "gas_price_wei": env.gas_price_wei,
            "tokens": {symbol: t.address for symbol, t in env.deployment.tokens.items()},
            "gas_funder_mnemonic": env.mnemonic,
            "gas_funder_index": ROLE_LAYOUT.exchange_gas_funder,
        }
    return {}
