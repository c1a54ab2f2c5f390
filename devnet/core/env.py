"""The environment file (`.devnet/env.json`): everything a test, a load generator or the CLI
needs to attach to a running devnet."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from devnet.core.deploy import Deployment


class Launch(BaseModel):
    """How a local component was started, so that it can be started again the same way after
    a crash, as a supervisor would: the same command, environment, folder and log."""

    argv: list[str]
    #: Variables set for the component on top of the environment it was started from (its
    #: settings, e.g. `BANK_WEBHOOK_SECRET`); the rest of the environment is not recorded.
    env: dict[str, str] = {}
    cwd: str
    log_path: str


class NodeEntry(BaseModel):
    engine: str
    pid: int | None = None
    #: The node's container id (docker runtime); its log is `docker logs`.
    container: str | None = None
    log_path: str | None = None
    datadir: str | None = None
    block_period_s: int = 0
    #: Local runtime: how to start the node again on its datadir (`devnet chaos`).
    launch: Launch | None = None


class ComponentEntry(BaseModel):
    """A running service: where it answers, and how `devnet down` stops it."""

    url: str
    pid: int | None = None
    container: str | None = None
    log_path: str | None = None
    #: Given by URL in the config: not started, not stopped by the devnet.
    external: bool = False
    #: Local runtime: how to start the service again (`devnet chaos`).
    launch: Launch | None = None


class DevnetEnv(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chain_id: int
    rpc_url: str
    gas_price_wei: int
    mnemonic: str
    #: Indices of the mnemonic free for tests and load, [first, last).
    free_accounts: tuple[int, int]
    #: name -> address: KGST, USDKG, and each token's policy and feeds.
    contracts: dict[str, str]
    deployment: Deployment
    node: NodeEntry
    #: name -> base URL of the off-chain services (bank, custodian, issuer, exchange).
    services: dict[str, str] = {}
    #: name -> secret the service signs its webhooks with.
    webhook_secrets: dict[str, str] = {}
    components: dict[str, ComponentEntry] = {}
    runtime: str = "local"

    @classmethod
    def load(cls, path: Path) -> DevnetEnv:
        return cls.model_validate_json(path.read_text())

    def save(self, path: Path) -> None:
        """Write atomically, so readers in other processes never see half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".env-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            f.write(self.model_dump_json(indent=2) + "\n")
        os.replace(tmp, path)

    def summary(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "rpc_url": self.rpc_url,
            "engine": self.node.engine,
            **self.contracts,
        }
