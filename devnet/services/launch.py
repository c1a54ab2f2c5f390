"""Start a service as a child process (`python -m devnet.services.<name>`) on a free port."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx

from devnet.node.process import ManagedProcess, StartError, free_port


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
    from devnet.components import SPECS

    spec = SPECS[name]
    # A free port can be taken between choosing it and binding it: choose again, a few times.
    for attempt in range(3 if port is None else 1):
        chosen = port or free_port()
        argv = spec.argv(sys.executable, "127.0.0.1", chosen, str(workdir))
        url = f"http://127.0.0.1:{chosen}"
        process = ManagedProcess(name, argv, workdir / f"{name}.log", env=spec.environment(settings or {}))
        try:
            process.start(ready=lambda u=url: _healthy(u), timeout=timeout)  # type: ignore[misc]
        except StartError as e:
            if attempt < 2 and port is None and "address already in use" in str(e).lower():
                continue
            raise
        return ServiceHandle(name, url, process)
    raise AssertionError("unreachable")
