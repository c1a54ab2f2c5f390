"""The local runtime: every component a child process of this machine on a free loopback port,
in its own session (a stop takes its children too), logging to a file under the state folder.

A component's command, environment, folder and log are recorded in env.json (`Launch`), so
`devnet chaos` can start a killed one again exactly as it was started, from any process.
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devnet.core.env import DevnetEnv, Launch
from devnet.node.process import (
    ManagedProcess,
    StartError,
    free_port,
    kill_tree,
    log_tail,
    pid_alive,
    stop_pid,
)
from devnet.profile import Engine
from devnet.runtime import RuntimeName
from devnet.runtime.base import Back, Component, Entry, Placement, Reach, Runtime, Started, Status, where
from devnet.runtime.readiness import Probe, Readiness

LOOPBACK = "127.0.0.1"

#: A component that exits while it restarts (a dependency down, its port still held a moment)
#: is started again after this pause, doubling up to `RETRY_MAX_S`, as a supervisor does
#: (systemd's Restart=always), until the restart's timeout.
RETRY_FIRST_S, RETRY_MAX_S = 0.25, 2.0


@dataclass(frozen=True)
class Launched:
    """A component running as a child process of this one, ready."""

    process: ManagedProcess
    url: str
    #: From the start (`prepare` included) until it was ready.
    seconds: float


def launch(component: Component, port: int | None = None) -> Launched:
    """Start `component` as a child process on `port` and wait until its readiness check
    passes. Without `port`, on a free one; a free port can be taken between choosing it and
    binding it, so it is chosen again, a few times."""
    started = time.monotonic()
    if component.prepare is not None:
        component.prepare()
    for attempt in range(3 if port is None else 1):
        chosen = port or free_port()
        place = Placement(host=LOOPBACK, port=chosen, python=sys.executable, in_container=False)
        url = f"http://{LOOPBACK}:{chosen}"
        process = ManagedProcess(
            component.name, component.argv(place), component.log_path, env=dict(component.environment)
        )
        probe = Probe(component.readiness, url)
        try:
            process.start(probe, component.readiness.timeout_s, waited_for=probe.waited_for)
        except StartError as e:
            if attempt < 2 and port is None and "address already in use" in str(e).lower():
                continue
            raise
        except BaseException:  # interrupted while waiting: leave nothing running unrecorded
            process.stop()
            raise
        if component.after_ready is not None:
            try:
                component.after_ready(url)
            except BaseException:  # a start that fails leaves nothing running
                process.stop()
                raise
        return Launched(process, url, round(time.monotonic() - started, 3))
    raise AssertionError("unreachable")


def launch_of(process: ManagedProcess) -> Launch:
    """What a supervisor needs to start `process` again exactly as it was started."""
    return Launch(
        argv=process.argv,
        env=dict(process.env or {}),
        cwd=str(process.cwd),
        log_path=str(process.log_path.resolve()),
    )


class LocalRuntime(Runtime):
    """Child processes on loopback ports. `stop` stops the ones this object started and the
    ones env.json names (a devnet another process started)."""

    name: RuntimeName = "local"
    cannot_resume = None

    def __init__(self) -> None:
        self._started: list[ManagedProcess] = []

    def prepare(self, state_dir: Path, engine: Engine) -> None:
        """Nothing to prepare: each component's tools are found when its command is made."""

    def reach(self, env: DevnetEnv, env_file: Path, component: str, port: int) -> Reach:
        """Everything at its host URL; env.json where it is."""
        return Reach(rpc_url=env.rpc_url, services=dict(env.services), env_file=str(env_file.resolve()))

    def start(self, component: Component) -> Started:
        launched = launch(component)
        self._started.append(launched.process)
        return Started(
            url=launched.url,
            pid=launched.process.pid,
            log_path=str(component.log_path),
            datadir=str(component.datadir) if component.datadir else None,
            launch=launch_of(launched.process),
            seconds=launched.seconds,
        )

    def status(self, entry: Entry) -> Status:
        return Status(running=bool(entry.pid and pid_alive(entry.pid)), where=where(entry))

    def logs(self, entry: Entry, lines: int) -> str:
        return log_tail(Path(entry.log_path or ""), lines)

    def kill(self, entry: Entry) -> None:
        """SIGKILL to its whole process tree at once (the node: its consensus side and geth)."""
        if entry.pid:
            kill_tree(entry.pid)

    def restart(self, name: str, entry: Entry, url: str, readiness: Readiness) -> Back:
        """The same command, environment, folder and log: the same port and data (the node
        resumes its chain from its datadir)."""
        if entry.launch is None:
            raise ValueError(f"{name}: env.json does not say how it was started")
        launch = entry.launch
        deadline = time.monotonic() + readiness.timeout_s
        pause = RETRY_FIRST_S
        for attempt in itertools.count(1):
            process = ManagedProcess(
                name, launch.argv, Path(launch.log_path), env=launch.env, cwd=Path(launch.cwd)
            )
            probe = Probe(readiness, url)
            try:
                process.start(probe, max(1.0, deadline - time.monotonic()), waited_for=probe.waited_for)
            except BaseException as e:
                if not isinstance(e, StartError):  # interrupted: leave nothing running unrecorded
                    process.stop()
                    raise
                if e.exit_code is None or time.monotonic() + pause > deadline:
                    raise StartError(f"{e} (start attempt {attempt})", e.exit_code) from e
                time.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)
                continue
            return Back(url=url, pid=process.pid, attempts=attempt)
        raise AssertionError("unreachable")

    def stop(self, state_dir: Path, env: DevnetEnv | None) -> bool:
        """Services first (last started first), then the node."""
        pids = [p.pid for p in reversed(self._started)]
        if env is not None:
            pids += [c.pid for c in reversed(env.components.values()) if c.pid and not c.external]
            if env.node.pid:
                pids.append(env.node.pid)
        was_running = any(pid_alive(pid) for pid in pids)
        for process in reversed(self._started):
            process.stop()
        self._started.clear()
        for pid in pids:
            stop_pid(pid)
        return was_running
