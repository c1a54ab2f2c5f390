"""Start a service as a child process (`python -m devnet.services.<name>`) on a free port."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx

from devnet.node.process import ManagedProcess, free_port

ENV_PREFIX = {"bank": "BANK_", "custodian": "CUSTODIAN_", "issuer": "ISSUER_", "exchange": "EXCHANGE_"}


class ServiceHandle:
    def __init__(self, name: str, url: str, process: ManagedProcess):
        self.name = name
        self.url = url
        self.process = process

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or clean up."""
        import os
        import signal

        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.stop(timeout=5)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_service(
    name: str,
    workdir: Path,
    *,
    port: int | None = None,
    settings: dict[str, Any] | None = None,
    timeout: float = 30.0,
) -> ServiceHandle:
    """Settings reach the service as environment variables (`BANK_WEBHOOK_SUBSCRIBERS=[...]`)."""
    port = port or free_port()
    prefix = ENV_PREFIX[name]
    env = {
        f"{prefix}{key.upper()}": value if isinstance(value, str) else json.dumps(value)
        for key, value in (settings or {}).items()
    }
    argv = [sys.executable, "-m", f"devnet.services.{name}", "--port", str(port), "--data-dir", str(workdir)]
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(name, argv, workdir / f"{name}.log", env=env)
    process.start(ready=lambda: _healthy(url), timeout=timeout)
    return ServiceHandle(name, url, process)
