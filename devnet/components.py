"""The devnet's components, each a typed Input -> Output, defined once for every runtime.

- **node**: Input `NodeInput` (engine, profile, host folder); `node_component` makes the
  `Component` a runtime starts (its command lines, port, readiness, image, datadir), and
  `node_entry` turns what the runtime gives back (`Started`: the RPC URL, a pid or a
  container, the datadir) into env.json's `NodeEntry`.
- **services** (bank, custodian, issuer, exchange): Input the service's own settings model
  (`BankSettings`, ...). A `ServiceSpec` says how to run the service and, in `wire`, which of
  the world's URLs and secrets it gets: a typed function of the world as the service will
  reach it (`Wiring`). `ServiceSpec.component` makes the `Component`; `service_entry` the
  Output, env.json's `ComponentEntry`.

A service given a URL in the config is external and not started at all. env.json holds every
Output, so a later process attaches to the running devnet instead of starting it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic_settings import InitSettingsSource

from devnet.core.accounts import ROLE_LAYOUT
from devnet.core.env import ComponentEntry, DevnetEnv, NodeEntry
from devnet.node.bsc.node import bsc_argv, init_bsc_datadir, register_validator
from devnet.node.node import ANVIL_STATES, anvil_argv, geth_node_argv, init_geth_datadir
from devnet.profile import BscProfile, Engine
from devnet.runtime.base import Component, CopyIn, Placement, Reach, Started
from devnet.runtime.readiness import Readiness
from devnet.services.bank.settings import BankSettings
from devnet.services.common.settings import ServiceSettings
from devnet.services.custodian.settings import CustodianSettings
from devnet.services.exchange.settings import ExchangeSettings
from devnet.services.issuer.settings import IssuerSettings

SERVICES_IMAGE = "bsc-stablecoin-devnet/services:local"
NODE_IMAGE = {
    "geth": "bsc-stablecoin-devnet/geth:v1.17.4",
    "anvil": "bsc-stablecoin-devnet/anvil:1.7.1",
    "bsc": "bsc-stablecoin-devnet/bsc:v1.7.8",
}

S = TypeVar("S", bound=ServiceSettings)

# ---- the node -----------------------------------------------------------------------------------

#: The node's JSON-RPC port in its container.
NODE_PORT = 8545
#: geth's own HTTP and Engine API ports in the node's container (loopback there: the
#: consensus side in front of it is the node's public face). Locally they are free ports.
GETH_CONTAINER_PORTS = (8546, 8551)
#: Where the geth datadir made on the host is copied to in the node's container.
GETH_DATADIR_IN_CONTAINER = "/geth-data"
#: Where the bsc validators' datadirs made on the host are copied to in the node's container.
BSC_DATADIR_IN_CONTAINER = "/bsc-data"


class NodeInput(BaseModel):
    """What the node is made from."""

    model_config = ConfigDict(extra="forbid")

    engine: Engine
    profile: BscProfile
    #: Host folder for its log and (geth, bsc) its datadir; a datadir there resumes its chain.
    workdir: Path


def node_readiness(engine: str, chain_id: int) -> Readiness:
    """Ready when it answers `eth_chainId` with the profile's chain id; bsc, which seals on
    its own clock, also once it has sealed block 1 (where Parlia initialises the system
    contracts: a node that cannot seal it is not ready, whatever else it answers)."""
    ready = Readiness.rpc(f"{engine} (chain id {chain_id})", "eth_chainId", hex(chain_id))
    if engine != "bsc":
        return ready
    block_1 = Readiness(
        what="bsc block 1", rpc_method="eth_getBlockByNumber", rpc_params=("0x1", False), rpc_non_null=True
    )
    return ready.model_copy(update={"also": block_1})


def node_component(node: NodeInput) -> Component:
    """geth under its consensus side (`python -m devnet.consensus`, geth its child), its
    datadir made on this host before it starts (`init_geth_datadir`); bsc, the validator of
    its own chain, its datadir made the same way (`init_bsc_datadir`); or anvil."""
    profile = node.profile
    if node.engine == "geth":
        datadir = node.workdir / Path(GETH_DATADIR_IN_CONTAINER).name
        return Component(
            name="node",
            image=NODE_IMAGE["geth"],
            port=NODE_PORT,
            readiness=node_readiness("geth", profile.chain_id),
            argv=partial(_geth_argv, profile, datadir),
            log_path=node.workdir / "geth.log",
            # The folder keeps its name: it lands at GETH_DATADIR_IN_CONTAINER.
            files=(CopyIn(datadir, "/"),),
            prepare=partial(init_geth_datadir, profile, datadir, node.workdir / "geth.log"),
            datadir=datadir,
        )
    if node.engine == "bsc":
        datadir = node.workdir / Path(BSC_DATADIR_IN_CONTAINER).name
        log_path = node.workdir / "bsc.log"
        return Component(
            name="node",
            image=NODE_IMAGE["bsc"],
            port=NODE_PORT,
            # Several validators start one after the other (devnet.node.bsc.cluster).
            readiness=node_readiness("bsc", profile.chain_id).model_copy(
                update={"timeout_s": 60.0 if profile.bsc_validators == 1 else 240.0}
            ),
            argv=partial(_bsc_argv, profile, datadir),
            log_path=log_path,
            # The folder keeps its name: it lands at BSC_DATADIR_IN_CONTAINER.
            files=(CopyIn(datadir, "/"),),
            prepare=partial(init_bsc_datadir, profile, datadir, log_path),
            after_ready=partial(register_validator, profile, datadir),
            datadir=datadir,
        )
    return Component(
        name="node",
        image=NODE_IMAGE["anvil"],
        port=NODE_PORT,
        readiness=node_readiness("anvil", profile.chain_id),
        argv=partial(_anvil_argv, profile, node.workdir / ANVIL_STATES),
        log_path=node.workdir / "anvil.log",
    )


def _geth_argv(profile: BscProfile, datadir: Path, place: Placement) -> list[str]:
    if place.in_container:
        return geth_node_argv(
            profile,
            Path(GETH_DATADIR_IN_CONTAINER),
            place.port,
            internal_ports=GETH_CONTAINER_PORTS,
            python=place.python,
            host=place.host,
            geth="geth",
        )
    return geth_node_argv(profile, datadir, place.port, python=place.python, host=place.host)


def _bsc_argv(profile: BscProfile, datadir: Path, place: Placement) -> list[str]:
    if place.in_container:
        run_root = Path(BSC_DATADIR_IN_CONTAINER)
        return bsc_argv(
            profile, datadir, place.port, host=place.host, python=place.python, bsc="bsc", run_root=run_root
        )
    return bsc_argv(profile, datadir, place.port, host=place.host, python=place.python)


def _anvil_argv(profile: BscProfile, states: Path, place: Placement) -> list[str]:
    if place.in_container:
        # The anvil image's entrypoint is anvil: a container gets the arguments only; it keeps
        # its states in the container, removed with it.
        return anvil_argv(profile, place.port, host=place.host)[1:]
    return anvil_argv(profile, place.port, host=place.host, states=states)


def node_entry(node: NodeInput, started: Started) -> NodeEntry:
    """The node's Output as env.json keeps it (its URL is env.json's `rpc_url`)."""
    return NodeEntry(
        engine=node.engine,
        pid=started.pid,
        container=started.container,
        log_path=started.log_path,
        datadir=started.datadir,
        block_period_s=node.profile.block_period_s,
        launch=started.launch,
    )


# ---- the services ---------------------------------------------------------------------------------

#: A service's port in its container.
SERVICE_PORT = 8000
#: A service's data folder in its container.
SERVICE_DATA_IN_CONTAINER = "/data"


@dataclass(frozen=True)
class Wiring:
    """What a service's settings are made from: the devnet so far (env.json: chain, contracts,
    mnemonic, webhook secrets, the services already up) as the service will reach it."""

    env: DevnetEnv
    reach: Reach
    #: The address the custodian signs its attestations with; "" while no custodian runs.
    custodian_signer: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    summary: str
    #: Its settings model: the service's Input (`devnet/services/<name>/settings.py`).
    settings_model: type[ServiceSettings]
    #: Its Input from the world: which URLs and secrets it gets.
    wire: Callable[[Wiring], ServiceSettings]
    depends_on: tuple[str, ...] = ()
    container_port: int = SERVICE_PORT
    image: str = SERVICES_IMAGE

    @property
    def readiness(self) -> Readiness:
        return Readiness.http(f"{self.name} service", "/health")

    @property
    def env_prefix(self) -> str:
        """Settings reach the service as environment variables with this prefix."""
        return f"{self.name.upper()}_"

    def argv(self, place: Placement, data_dir: str) -> list[str]:
        return [
            place.python,
            "-m",
            f"devnet.services.{self.name}",
            "--host",
            place.host,
            "--port",
            str(place.port),
            "--data-dir",
            data_dir,
        ]

    def settings(self, values: Mapping[str, Any]) -> ServiceSettings:
        """Its settings model from `values` (validated here: a bad name or value fails now)."""
        return settings_from(self.settings_model, values)

    def environment(self, settings: ServiceSettings) -> dict[str, str]:
        """The settings given explicitly, as the service reads them from its environment."""
        values = settings.model_dump(mode="json")
        return {
            f"{self.env_prefix}{key.upper()}": value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()
            if key in settings.model_fields_set
        }

    def component(
        self, settings: ServiceSettings, workdir: Path, files: tuple[CopyIn, ...] = ()
    ) -> Component:
        """The service with `settings`; locally its SQLite file and log go to `workdir`."""

        def argv(place: Placement) -> list[str]:
            return self.argv(place, SERVICE_DATA_IN_CONTAINER if place.in_container else str(workdir))

        return Component(
            name=self.name,
            image=self.image,
            port=self.container_port,
            readiness=self.readiness,
            argv=argv,
            log_path=workdir / f"{self.name}.log",
            environment=self.environment(settings),
            files=files,
        )


def settings_from(model: type[S], values: Mapping[str, Any]) -> S:
    """`model` validated from `values` alone. pydantic-settings would also read this process's
    environment variables; the service reads its own where it runs."""
    given = dict(values)
    # pydantic-settings' own option of BaseSettings.__init__: build from these sources only.
    # Passed in a mapping because type checkers see the fields-only __init__ pydantic declares.
    only_given: dict[str, Any] = {"_build_sources": ((InitSettingsSource(model, given),), given)}
    return model(**only_given)


def service_entry(started: Started) -> ComponentEntry:
    """A service's Output as env.json keeps it."""
    return ComponentEntry(
        url=started.url,
        pid=started.pid,
        container=started.container,
        log_path=started.log_path,
        launch=started.launch,
    )


# ---- each service's settings model and wiring -------------------------------------------------


def wire_bank(w: Wiring) -> BankSettings:
    """The secret it signs its webhooks with."""
    return settings_from(BankSettings, {"webhook_secret": w.env.webhook_secrets["bank"]})


def wire_custodian(w: Wiring) -> CustodianSettings:
    """The secret it signs its webhooks with."""
    return settings_from(CustodianSettings, {"webhook_secret": w.env.webhook_secrets["custodian"]})


#: The services whose webhooks the issuer receives.
ISSUER_PEERS = ("bank", "custodian")


def wire_issuer(w: Wiring) -> IssuerSettings:
    """env.json (chain, contracts, its keys), the bank and the custodian (their URLs, the
    secrets their webhooks come signed with, the custodian's signer), where they call it back,
    and its own webhook secret."""
    return settings_from(
        IssuerSettings,
        {
            "env_file": w.reach.env_file,
            "bank_url": w.reach.services.get("bank", ""),
            "custodian_url": w.reach.services.get("custodian", ""),
            "custodian_signer": w.custodian_signer,
            "public_url": w.reach.public_url,
            "webhook_secret": w.env.webhook_secrets["issuer"],
            "inbound_webhook_secrets": {
                peer: secret for peer, secret in w.env.webhook_secrets.items() if peer in ISSUER_PEERS
            },
        },
    )


def wire_exchange(w: Wiring) -> ExchangeSettings:
    """The node (URL, chain id, gas price), the tokens it lists, the account that pays its gas,
    and its webhook secret."""
    env = w.env
    return settings_from(
        ExchangeSettings,
        {
            "rpc_url": w.reach.rpc_url,
            "chain_id": env.chain_id,
            "gas_price_wei": env.gas_price_wei,
            "tokens": {symbol: t.address for symbol, t in env.deployment.tokens.items()},
            "gas_funder_mnemonic": env.mnemonic,
            "gas_funder_index": ROLE_LAYOUT.exchange_gas_funder,
            "webhook_secret": env.webhook_secrets["exchange"],
        },
    )


#: In start order.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("bank", "mock commercial bank (KGS, USD)", BankSettings, wire_bank),
    ServiceSpec("custodian", "gold vault: bars, attestations, XAU/USD", CustodianSettings, wire_custodian),
    ServiceSpec(
        "issuer",
        "reference issuer: mints, redemptions, reserve reports",
        IssuerSettings,
        wire_issuer,
        depends_on=ISSUER_PEERS,
    ),
    ServiceSpec("exchange", "exchange-listing simulator", ExchangeSettings, wire_exchange),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)
SPECS = {s.name: s for s in SERVICES}
