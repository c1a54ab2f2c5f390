"""Several bsc validators as one process (the node component): `python -m
devnet.node.bsc.cluster '<argv 0 as JSON>' '<argv 1>' ...`; the first argv seals (`--mine`)
and serves the cluster's JSON-RPC port, the others do not seal and serve the miner API on
loopback ports of their own. The first writes to this process's output (the component's log),
each other one to `bsc.log` in its datadir.

A bsc node imports blocks its peers propagate only once it has completed a sync from a peer
with more total difficulty (bsc's eth/handler.go: "Syncing, discarded propagated block" while
not `synced`). Validators started together at one height never do: each seals its own blocks
and discards the others'. Seen here: three settled after tens of seconds, two deadlocked (each
waiting for a block the other had discarded). So the start goes in three steps, each one's
node behind the ones it syncs from:

1. the first validator alone, sealing, on a private port, until it has sealed a block;
2. the others, not sealing, until they have synced up to it; then `miner_start` each;
3. the first stopped; once the others have sealed past it, started again on the cluster's
   port, not sealing, until it has synced up to them; then `miner_start` it.

The same on a resumed chain. Measured here (2 shared cores): ready in 40-85 s; afterwards the
validators take turns every 450 ms and, 40 blocks after they began sealing (when bsc starts
voting), `finalized` trails the head by one, fresh and resumed, with two and three validators.

Afterwards it carries out the faults asked of it (`devnet.node.bsc.faults`: votes off, a
validator down, a partition): it looks for a new `faults.json` every 0.1 s, applies it
(stopping, restarting without `--vote`, cutting peers with the admin API), and writes what the
validators look like to `cluster.json`, again every 2 s. A validator it stopped on purpose is
not an exit.

When one exits unasked, or this process is asked to stop (SIGTERM, SIGINT), the others get SIGTERM
and are waited for (SIGKILL after a timeout), so a stopped cluster has closed its databases
cleanly and resumes where it stopped.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import FrameType

from devnet.node.bsc.faults import (
    FAULTS_FILE,
    STATUS_FILE,
    ClusterStatus,
    FaultState,
    ValidatorStatus,
    write_json_atomically,
)

STOP_TIMEOUT_S = 20.0
#: How long one step of the start may take (a bsc start, a sync).
STEP_TIMEOUT_S = 60.0
#: How long the first validator alone is given to seal a block past its head (at the start), and
#: a restarted validator's mates to seal past the head it restarted with (a fault).
SEAL_WAIT_S = 10.0
#: bsc refuses, for good, a peer that disconnected from it on request ("explicitly disconnected
#: peer previously", p2p/server.go of v1.7.8), as a partition's cut does; `admin_removePeer` of
#: this enode, named there, clears that memory.
FORGET_DISCONNECTS = (
    "enode://1dd9d65c4552b5eb43d5ad55a2ee3f56c6cbc1c64a5c8d659f51fcd51bace24351232b8d7821617d2b29b54b81cd"
    "efb9b3e9c37d7fd5f63270bcc9e1a6f6a439"
)
#: How often `cluster.json` is written again (heads, peers) when nothing changes.
STATUS_EVERY_S = 2.0


def _datadir(argv: list[str]) -> Path:
    return Path(argv[argv.index("--datadir") + 1])


_FAILED = object()


def _url(argv: list[str]) -> str:
    return f"http://127.0.0.1:{argv[argv.index('--http.port') + 1]}"


def _call(url: str, method: str, *params: object) -> object:
    """The JSON-RPC call's result, or _FAILED (no answer yet, or an error)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            reply = json.loads(response.read())
    except (OSError, ValueError):
        return _FAILED
    return _FAILED if "error" in reply else reply.get("result")


def _head(url: str) -> int | None:
    number = _call(url, "eth_blockNumber")
    return int(number, 16) if isinstance(number, str) else None


def _reached(url: str, number: int) -> bool:
    return (_head(url) or 0) >= number


def _miner_start(url: str) -> bool:
    return _call(url, "miner_start") is not _FAILED


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _variant(argv: list[str], port: int | None = None, seal: bool = True, vote: bool = True) -> list[str]:
    """`argv` on another JSON-RPC port, or without sealing (and with the miner API), or
    without voting."""
    out = list(argv)
    if port is not None:
        out[out.index("--http.port") + 1] = str(port)
    if not seal:
        if "--mine" in out:
            out.remove("--mine")
        api = out.index("--http.api") + 1
        if "miner" not in out[api].split(","):
            out[api] += ",miner"
    if not vote and "--vote" in out:
        out.remove("--vote")
    return out


class Cluster:
    """The validators' processes, their start, the faults asked of them in `faults.json`
    (`devnet.node.bsc.faults`) and what they look like, in `cluster.json`."""

    def __init__(self, argvs: list[list[str]]):
        self.argvs = argvs
        self.root = _datadir(argvs[0]).parent
        self.urls = [_url(argv) for argv in argvs]
        self.children: list[subprocess.Popen[bytes] | None] = [None] * len(argvs)
        self.stopping = False
        self.state = FaultState()
        self.voting = [True] * len(argvs)
        self.cut: set[frozenset[int]] = set()
        self.enodes: dict[int, str] = {}
        self.addresses = [argv[argv.index("--miner.etherbase") + 1] for argv in argvs]
        self.faults_mtime = 0.0
        # Faults do not outlive the process that carried them out: a restart starts healthy.
        for stale in (FAULTS_FILE, STATUS_FILE):
            (self.root / stale).unlink(missing_ok=True)

    # ---- processes -----------------------------------------------------------------------------

    def running(self) -> bool:
        """Not asked to stop, and no validator has exited unasked."""
        return not self.stopping and all(c.poll() is None for c in self.children if c is not None)

    def wait_for(self, ready: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            if ready():
                return True
            time.sleep(0.1)
        return False

    def spawn(self, i: int, argv: list[str]) -> None:
        if i == 0:
            self.children[0] = subprocess.Popen(argv)
            return
        with open(_datadir(argv) / "bsc.log", "ab") as log:
            self.children[i] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def stop_child(self, i: int) -> None:
        child, self.children[i] = self.children[i], None
        if child is None:
            return
        child.terminate()
        try:
            child.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def heads(self, among: list[int] | None = None) -> list[int]:
        chosen = range(len(self.argvs)) if among is None else among
        return [h for i in chosen if self.children[i] is not None and (h := _head(self.urls[i])) is not None]

    # ---- the start (see the module's docstring) ------------------------------------------------

    def start(self) -> None:
        argvs, others = self.argvs, self.urls[1:]
        # 1. The first validator alone, on a port of its own: it seals a block the others lack.
        port = _free_port()
        bootstrap = f"http://127.0.0.1:{port}"
        self.spawn(0, _variant(argvs[0], port=port))
        self.wait_for(lambda: (_head(bootstrap) or 0) >= 1, STEP_TIMEOUT_S)
        start_head = _head(bootstrap) or 0
        self.wait_for(lambda: (_head(bootstrap) or 0) > start_head, SEAL_WAIT_S)
        # 2. The others sync from it, then seal.
        for i in range(1, len(argvs)):
            self.spawn(i, argvs[i])
        first_head = _head(bootstrap) or 0
        for url in others:
            self.wait_for(partial(_reached, url, first_head), STEP_TIMEOUT_S)
            self.wait_for(partial(_miner_start, url), STEP_TIMEOUT_S)
        # 3. The first again, on the cluster's port, not sealing until it has synced from the
        # others (who seal past it meanwhile): a node that has synced imports their blocks.
        if self.running():
            self.stop_child(0)
            stopped_at = max([first_head, *[_head(u) or 0 for u in others]])
            self.wait_for(lambda: max(_head(u) or 0 for u in others) > stopped_at, STEP_TIMEOUT_S)
            self.spawn(0, _variant(argvs[0], seal=False))
            first = self.urls[0]
            self.wait_for(lambda: (_head(first) or 0) >= max(_head(u) or 0 for u in others), STEP_TIMEOUT_S)
            self.wait_for(partial(_miner_start, first), STEP_TIMEOUT_S)
        self.write_status()

    def run(self) -> int:
        self.start()
        last_status = 0.0
        while self.running():
            self.take_faults()
            if time.monotonic() - last_status > STATUS_EVERY_S:
                self.write_status()
                last_status = time.monotonic()
            time.sleep(0.1)
        exited = [c.returncode for c in self.children if c is not None and c.returncode is not None]
        for child in self.children:
            if child is not None and child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in self.children:
            if child is None:
                continue
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return 0 if self.stopping else (exited[0] if exited else 1) or 1

    # ---- faults --------------------------------------------------------------------------------

    def take_faults(self) -> None:
        path = self.root / FAULTS_FILE
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime == self.faults_mtime:
            return
        self.faults_mtime = mtime
        try:
            wanted = FaultState.model_validate_json(path.read_text())
        except ValueError:
            return  # half written: the next look sees it whole
        if wanted.serial <= self.state.serial:
            return
        error = None
        try:
            self.apply(wanted)
        except (OSError, RuntimeError) as e:
            error = str(e)
        self.state = wanted
        self.write_status(error)

    def apply(self, wanted: FaultState) -> None:
        n = len(self.argvs)
        # Those going down first, so that a restart below never syncs from a validator about to go.
        for i in range(1, n):
            if i in wanted.down:
                self.stop_child(i)
        self.partition(wanted.partition)
        # Then one restart at a time, the others sealing meanwhile: two of three validators
        # restarted together found the chain stalled at the head they had, both sealed on it
        # before either had synced, and each discarded the other's blocks (a deadlock, in CI).
        for i in range(1, n):
            vote = i not in wanted.silent
            if i in wanted.down or (self.children[i] is not None and self.voting[i] == vote):
                continue
            self.stop_child(i)
            self.restart(i, vote=vote, side=wanted.partition)

    def restart(self, i: int, vote: bool, side: list[int]) -> None:
        """Validator i again, not sealing until it has caught up with the validators on its side
        of a partition; then sealing (and voting, with `vote`)."""
        self.spawn(i, _variant(self.argvs[i], seal=False, vote=vote))
        self.voting[i] = vote
        url = self.urls[i]
        if not self.wait_for(lambda: _head(url) is not None, STEP_TIMEOUT_S):
            raise RuntimeError(f"validator {i} did not answer within {STEP_TIMEOUT_S:.0f} s")
        self.partition(side)
        mates = [j for j in range(len(self.argvs)) if j != i and (j in side) == (i in side)]
        # It sees its peers' blocks only after a sync from one that is ahead of it (see the
        # module's docstring): so its mates seal past the head it restarted with, and it syncs
        # up to them. Mates too few to seal without it (one of three) cannot: after
        # SEAL_WAIT_S it seals from where it is.
        own = _head(url) or 0
        self.wait_for(lambda: max(self.heads(mates), default=0) > own, SEAL_WAIT_S)
        target = max(self.heads(mates), default=0)
        if not self.wait_for(partial(_reached, url, target), STEP_TIMEOUT_S):
            raise RuntimeError(
                f"validator {i} did not sync up to block {target} within {STEP_TIMEOUT_S:.0f} s"
            )
        if not self.wait_for(partial(_miner_start, url), STEP_TIMEOUT_S):
            raise RuntimeError(f"validator {i} did not start sealing")

    def enode(self, i: int) -> str | None:
        if i not in self.enodes:
            info = _call(self.urls[i], "admin_nodeInfo")
            if not isinstance(info, dict):
                return None
            self.enodes[i] = str(info["enode"])
        return self.enodes[i]

    def partition(self, side: list[int]) -> None:
        """No peering between `side` and the others (both ways: each would dial the other back
        as a static peer); every other pair of running validators peers."""
        n = len(self.argvs)
        up = [i for i in range(n) if self.children[i] is not None]
        for a, b in itertools.combinations(up, 2):
            pair = frozenset((a, b))
            apart = (a in side) != (b in side)
            ends = [(a, self.enode(b)), (b, self.enode(a))]
            if any(enode is None for _, enode in ends):
                raise RuntimeError(f"validators {a} and {b} did not tell their enodes")
            if apart:
                for i, enode in ends:
                    _call(self.urls[i], "admin_removeTrustedPeer", enode)
                    _call(self.urls[i], "admin_removePeer", enode)
                self.cut.add(pair)
            elif pair in self.cut:
                for i, enode in ends:
                    _call(self.urls[i], "admin_removePeer", FORGET_DISCONNECTS)
                    _call(self.urls[i], "admin_addPeer", enode)
                    _call(self.urls[i], "admin_addTrustedPeer", enode)
                self.cut.discard(pair)

    def peers(self, i: int) -> list[int]:
        answer = _call(self.urls[i], "admin_peers")
        if not isinstance(answer, list):
            return []
        ids = {str(p.get("enode", "")).split("@")[0] for p in answer if isinstance(p, dict)}
        return [j for j, enode in self.enodes.items() if enode.split("@")[0] in ids]

    def write_status(self, error: str | None = None) -> None:
        validators = []
        for i, url in enumerate(self.urls):
            running = self.children[i] is not None
            if running:
                self.enode(i)
            validators.append(
                ValidatorStatus(
                    index=i,
                    address=self.addresses[i],
                    url=url,
                    running=running,
                    voting=running and self.voting[i],
                    peers=self.peers(i) if running else [],
                    head=_head(url) if running else None,
                )
            )
        status = ClusterStatus(pid=os.getpid(), applied=self.state, validators=validators, error=error)
        write_json_atomically(self.root / STATUS_FILE, status.model_dump_json(indent=1))


def main(args: list[str]) -> int:
    cluster = Cluster([json.loads(a) for a in args])

    def stop(_signum: int, _frame: FrameType | None) -> None:
        cluster.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return cluster.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
