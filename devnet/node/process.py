"""A child process with a readiness probe, a log file and a clean stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil


class StartError(RuntimeError):
    """A component did not become ready; the message ends with its log tail. `exit_code`:
    set when it exited before it was ready (else it ran but never answered)."""

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        self.exit_code = exit_code


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not exited within `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def kill_tree(pid: int, timeout: float = 15.0) -> list[int]:
    """SIGKILL a process, its process group and every descendant at once, as a crash of the
    machine under it would (no process gets to clean up), and wait until all are gone.
    Returns the pids killed; an empty list when `pid` was not running."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    try:  # the session's group: a component started by ManagedProcess leads its own
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for proc in procs:  # and any descendant that left the group
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(_running(p) for p in procs):
        if time.monotonic() > deadline:
            alive = [p.pid for p in procs if _running(p)]
            raise RuntimeError(f"processes {alive} still running {timeout:.0f} s after SIGKILL")
        time.sleep(0.02)
    return [p.pid for p in procs]


def _running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (a zombie has exited; only its parent has not reaped it yet).
    Our own children are reaped here, so they do not linger as zombies."""
    try:
        if proc.status() == psutil.STATUS_ZOMBIE:
            # Not our child: its parent (or init) reaps it.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(proc.pid, os.WNOHANG)
            return False
        return bool(proc.is_running())
    except psutil.NoSuchProcess:
        return False


class ManagedProcess:
    """Runs `argv` in its own session (so a stop takes its children too), logging to a file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        #: The folder it runs in (relative paths in `argv` are relative to it); default: ours.
        self.cwd = (cwd or Path.cwd()).resolve()
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self._popen.pid

    def start(
        self, ready: Callable[[], bool], timeout: float = 60.0, waited_for: Callable[[], str] | None = None
    ) -> None:
        """Start it and wait until `ready()`. A StartError with its log tail when it exits
        first, or (after stopping it) when `timeout` passes; `waited_for()` then says what
        it waited for and the last answer (`devnet.runtime.readiness.Probe.waited_for`)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
                cwd=self.cwd,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            code = self._popen.poll()
            if code is not None:
                raise StartError(
                    f"{self.name} exited with code {code} before it was ready.\n"
                    f"command: {' '.join(self.argv)}\n--- last lines of {self.log_path} ---\n"
                    f"{log_tail(self.log_path)}",
                    exit_code=code,
                )
            if ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                detail = f": waited for {waited_for()}" if waited_for else ""
                raise StartError(
                    f"{self.name} was not ready after {timeout:.0f} s{detail}.\n"
                    f"--- last lines of {self.log_path} ---\n{log_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        if self._popen is None:
            return
        stop_pid(self._popen.pid, timeout)
        self._popen.wait(timeout=5)


def init_chain(
    program: Path, storage: Sequence[str], datadir: Path, genesis_file: Path, log_path: Path
) -> None:
    """`<program> init` of a geth-family client (geth, bsc): `datadir` gets the chain of
    `genesis_file`, stored as `storage` says; its output goes to `log_path`."""
    name = program.name
    with open(log_path, "ab") as log:
        result = subprocess.run(
            [str(program), "init", *storage, "--datadir", str(datadir), str(genesis_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise StartError(f"{name} init failed (exit {result.returncode}); see {log_path}")
