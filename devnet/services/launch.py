"""Start one service as a child process (`python -m devnet.services.<name>`), outside a devnet:
for tests that wire a service by hand. A devnet's services are started by `devnet.world`."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devnet.components import SPECS
from devnet.node.process import ManagedProcess
from devnet.runtime.local import launch
from devnet.services.common.settings import ServiceSettings


class ServiceHandle:
    def __init__(self, name: str, url: str, process: ManagedProcess):
        self.name = name
        self.url = url
        self.process = process

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.stop(timeout=5)


def start_service(
    name: str,
    workdir: Path,
    *,
    port: int | None = None,
    settings: ServiceSettings | Mapping[str, Any] | None = None,
) -> ServiceHandle:
    """Start `name` on `port` (default: a free one) with `settings` (its settings model, or the
    values to make one from; they reach it as environment variables: `BANK_WEBHOOK_SUBSCRIBERS=[...]`),
    its SQLite file and log in `workdir`, and wait until it is ready."""
    spec = SPECS[name]
    if not isinstance(settings, ServiceSettings):
        settings = spec.settings(settings or {})
    launched = launch(spec.component(settings, workdir), port)
    return ServiceHandle(name, launched.url, launched.process)
