"""The docker runtime's wait strategy, against a scripted container (no Docker engine needed).

A container can exit between the status read and the port lookup; the engine then answers
with no published port. The wait must report the exit (code, hence the log tail), not a
missing port. Found by CI.
"""

from __future__ import annotations

from typing import Any

import pytest

from devnet.runtime.docker import ReadyOrExited, _ContainerExited
from devnet.runtime.readiness import Check, Readiness

HOST_PORT = "49153"


class _Scripted:
    """A container whose status follows a script, one entry per `reload()` (then the last
    entry); `exit_on_port_lookup` makes the process exit just as its port is looked up."""

    id = "c0ffee"
    name = "bsc-devnet-test-custodian"

    def __init__(self, statuses: list[str], exit_code: int = 3, exit_on_port_lookup: bool = False) -> None:
        self.script = statuses
        self.reloads = 0
        self.status = "created"
        self.exit_code = exit_code
        self.exit_on_port_lookup = exit_on_port_lookup
        self.attrs: dict[str, Any] = {}
        self.client = self  # docker-py: container.client.api.port(...)
        self.api = self

    def reload(self) -> None:
        self.status = self.script[min(self.reloads, len(self.script) - 1)]
        self.reloads += 1
        self.attrs = {"State": {"ExitCode": self.exit_code if self.status == "exited" else 0}}

    def port(self, _id: str, _port: int) -> list[dict[str, str]]:
        if self.exit_on_port_lookup:
            self.script, self.reloads = ["exited"], 0
            return []
        return [{"HostPort": HOST_PORT}] if self.status == "running" else []

    def get_wrapped_container(self) -> _Scripted:
        return self


def _wait(container: _Scripted, monkeypatch: pytest.MonkeyPatch, probe: Any = lambda _url: True) -> None:
    """Wait with a readiness check whose answers `probe(url)` scripts."""
    monkeypatch.setattr(Readiness, "check", lambda _self, url, _client=None: Check(probe(url), "scripted"))
    readiness = Readiness.http("custodian service", "/health", timeout_s=5)
    ReadyOrExited("127.0.0.1", 8000, readiness).wait_until_ready(container)  # type: ignore[arg-type]


def test_a_running_container_is_ready_once_its_probe_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([False, False, True])
    _wait(
        _Scripted(["created", "running"]),
        monkeypatch,
        probe=lambda url: url == f"http://127.0.0.1:{HOST_PORT}" and next(answers),
    )


def test_a_container_that_exits_is_reported_with_its_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(_ContainerExited) as raised:
        _wait(_Scripted(["created", "exited"], exit_code=3), monkeypatch)
    assert raised.value.code == 3


def test_a_container_that_exits_while_its_port_is_looked_up_is_reported_as_exited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(_ContainerExited) as raised:
        _wait(_Scripted(["running"], exit_code=3, exit_on_port_lookup=True), monkeypatch)
    assert raised.value.code == 3
