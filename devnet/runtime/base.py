"""The runtime interface: what a runtime runs (a `Component`), what starting it gives back
(`Started`), and what every runtime does with the components of one devnet (`Runtime`).

A component is defined once (`devnet.components`: the node, each service): its command line
for a given `Placement`, its port, its readiness check, its image. A runtime places it (a
child process on a free loopback port, or a container on the devnet's network), waits until
its `Readiness` passes, and returns a `Started`; env.json keeps that as the component's entry,
and every later operation (status, logs, kill, restart, stop) starts from the entry, so any
process can act on a devnet another one started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

from devnet.core.env import ComponentEntry, DevnetEnv, Launch, NodeEntry
from devnet.runtime.readiness import Check, Readiness

if TYPE_CHECKING:
    from devnet.profile import Engine
    from devnet.runtime import RuntimeName

#: Where a runtime reports what it is doing.
Progress = Callable[[str], None]

#: A running component as env.json records it: the node's entry or a service's.
Entry = NodeEntry | ComponentEntry


@dataclass(frozen=True)
class Placement:
    """Where a runtime places a component, as the component's command line names it."""

    #: The address it listens on, and its port.
    host: str
    port: int
    #: The Python that runs `python -m devnet...`.
    python: str
    #: In a container: the image's programs (on its PATH, or its entrypoint) and the
    #: container's folders; else this machine's tools and the host's folders.
    in_container: bool


@dataclass(frozen=True)
class CopyIn:
    """A file (bytes) or a host folder a container needs before it starts; a folder lands
    inside `destination` under its own name."""

    source: Path | bytes
    destination: str


@dataclass(frozen=True)
class Component:
    """One program a runtime runs, serving on one port."""

    #: node, bank, ...: its container's suffix and network alias, its name in messages.
    name: str
    image: str
    #: The port it serves on inside a container (a local process gets a free port instead).
    port: int
    readiness: Readiness
    argv: Callable[[Placement], list[str]]
    #: Its log file when it runs as a local process.
    log_path: Path
    #: Its settings, as environment variables.
    environment: Mapping[str, str] = field(default_factory=dict)
    files: tuple[CopyIn, ...] = ()
    #: Done on this host before it starts, on either runtime (e.g. `geth init` of a datadir).
    prepare: Callable[[], None] | None = None
    #: Done on this host once it is ready, given its (host) URL, on either runtime, before the
    #: start returns (e.g. registering bsc's validator in StakeHub).
    after_ready: Callable[[str], None] | None = None
    #: The host folder it keeps its chain in, recorded in env.json when it runs there.
    datadir: Path | None = None


@dataclass(frozen=True)
class Reach:
    """The world as a component placed by one runtime reaches it: what its wiring reads."""

    #: The node's JSON-RPC URL.
    rpc_url: str
    #: name -> URL of each service already up (or external).
    services: Mapping[str, str]
    #: Where it reads the devnet's env.json.
    env_file: str
    #: Where the others call it back; "" = at its own host and port.
    public_url: str = ""
    #: What a container needs copied in for the above (env.json); none for a local process.
    files: tuple[CopyIn, ...] = ()


class Started(BaseModel):
    """A component a runtime started and found ready (its Output): where it answers (a host
    URL) and how to find it again."""

    url: str
    pid: int | None = None
    container: str | None = None
    log_path: str | None = None
    datadir: str | None = None
    #: Local runtime: how to start it again the same way (`devnet chaos`).
    launch: Launch | None = None
    #: From the start until it was ready.
    seconds: float


@dataclass(frozen=True)
class Status:
    #: Its process (or container) runs.
    running: bool
    #: "pid 123" or "container 0123456789ab".
    where: str


@dataclass(frozen=True)
class Back:
    """A component started again after a kill or a crash."""

    url: str
    #: Its new pid (local runtime); None for a container.
    pid: int | None
    #: How many starts it took (more than 1: it exited while starting and was started again).
    attempts: int


def where(entry: Entry) -> str:
    """Where a component runs, in words: its container or its pid."""
    return f"container {entry.container[:12]}" if entry.container else f"pid {entry.pid}"


class Runtime(Protocol):
    """Starts, watches and stops the components of a devnet: `LocalRuntime` (child processes)
    or `DockerRuntime` (containers). `devnet.world` and `devnet chaos` use only this."""

    #: What env.json records as the devnet's runtime.
    name: RuntimeName
    #: Why `--resume` cannot work on this runtime; None when it can.
    cannot_resume: str | None

    def prepare(self, state_dir: Path, engine: Engine) -> None:
        """Get ready to start a devnet kept in `state_dir` on `engine`."""
        ...

    def reach(self, env: DevnetEnv, env_file: Path, component: str, port: int) -> Reach:
        """How `component` (serving on `port` in a container), started next, reaches the rest
        of the devnet `env` describes; `env_file` is env.json on this host."""
        ...

    def start(self, component: Component) -> Started:
        """Start it and wait until its readiness check passes. On failure: a StartError that
        says what was waited for, with the component's last log lines; nothing left running."""
        ...

    def ready(self, url: str, readiness: Readiness) -> Check:
        """Whether a running component passes its readiness check now (`devnet status`)."""
        return readiness.check(url)

    def status(self, entry: Entry) -> Status:
        """Whether its process (or container) runs, and where."""
        ...

    def logs(self, entry: Entry, lines: int) -> str:
        """The last `lines` lines of its log."""
        ...

    def kill(self, entry: Entry) -> None:
        """SIGKILL it, as a crash would; returns once it is gone."""
        ...

    def restart(self, name: str, entry: Entry, url: str, readiness: Readiness) -> Back:
        """Start a killed (or crashed) component again as a supervisor would (same command,
        data and port) and wait until `readiness` passes at its URL; one that exits while it
        starts is started again after a pause until `readiness.timeout_s`."""
        ...

    def stop(self, state_dir: Path, env: DevnetEnv | None) -> bool:
        """Stop everything of the devnet in `state_dir` (`env`: its env.json, if written) that
        this runtime started; True if something was still running."""
        ...
