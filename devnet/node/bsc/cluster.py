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

When one exits, or this process is asked to stop (SIGTERM, SIGINT), the others get SIGTERM
and are waited for (SIGKILL after a timeout), so a stopped cluster has closed its databases
cleanly and resumes where it stopped.
"""

from __future__ import annotations

import json
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

STOP_TIMEOUT_S = 20.0
#: How long one step of the start may take (a bsc start, a sync).
STEP_TIMEOUT_S = 60.0
#: How long the first validator alone is given to seal a block past its head.
SEAL_WAIT_S = 10.0


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


def _variant(argv: list[str], port: int | None = None, seal: bool = True) -> list[str]:
    """`argv` on another JSON-RPC port, or without sealing (and with the miner API)."""
    out = list(argv)
    if port is not None:
        out[out.index("--http.port") + 1] = str(port)
    if not seal:
        out.remove("--mine")
        api = out.index("--http.api") + 1
        out[api] += ",miner"
    return out


def main(args: list[str]) -> int:
    argvs: list[list[str]] = [json.loads(a) for a in args]
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children: list[subprocess.Popen[bytes]] = []

    def running() -> bool:
        return not stopping and all(c.poll() is None for c in children)

    def wait_for(ready: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while running() and time.monotonic() < deadline:
            if ready():
                return True
            time.sleep(0.1)
        return False

    # 1. The first validator alone, on a port of its own: it seals a block the others lack.
    bootstrap = _url(_variant(argvs[0], port=_free_port()))
    children.append(subprocess.Popen(_variant(argvs[0], port=int(bootstrap.rsplit(":", 1)[1]))))
    wait_for(lambda: (_head(bootstrap) or 0) >= 1, STEP_TIMEOUT_S)
    start_head = _head(bootstrap) or 0
    wait_for(lambda: (_head(bootstrap) or 0) > start_head, SEAL_WAIT_S)
    # 2. The others sync from it, then seal.
    others = [_url(argv) for argv in argvs[1:]]
    for argv in argvs[1:]:
        with open(_datadir(argv) / "bsc.log", "ab") as log:
            children.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
    first_head = _head(bootstrap) or 0
    for url in others:
        wait_for(partial(_reached, url, first_head), STEP_TIMEOUT_S)
        wait_for(partial(_miner_start, url), STEP_TIMEOUT_S)
    # 3. The first again, on the cluster's port, not sealing until it has synced from the
    # others (who seal past it meanwhile): a node that has synced imports their blocks.
    if running():
        children[0].terminate()
        children[0].wait(timeout=STOP_TIMEOUT_S)
        stopped_at = max([first_head, *[_head(u) or 0 for u in others]])
        wait_for(lambda: max(_head(u) or 0 for u in others) > stopped_at, STEP_TIMEOUT_S)
        children[0] = subprocess.Popen(_variant(argvs[0], seal=False))
        first = _url(argvs[0])
        wait_for(lambda: (_head(first) or 0) >= max(_head(u) or 0 for u in others), STEP_TIMEOUT_S)
        wait_for(partial(_miner_start, first), STEP_TIMEOUT_S)
    while running():
        time.sleep(0.1)
    exited = [c.returncode for c in children if c.returncode is not None]
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0 if stopping else (exited[0] if exited else 1) or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
