"""Several bsc validators as one process (the node component): `python -m
devnet.node.bsc.cluster '<argv 0 as JSON>' '<argv 1>' ...`.

Starts one bsc per argument; the first writes to this process's output (the component's log),
each other one to `bsc.log` in its datadir. The first starts alone and seals; the others start
once it has sealed block 1, without sealing (their argv has no `--mine`), and are told to seal
(`miner_start`) once they hold block 1 too, synced from the first. Started together, each
sealed a block 1 of its own at once, and bsc discarded the others' blocks while it thought
itself syncing ("Syncing, discarded propagated block"): the chain forked for tens of seconds.

Experimental: a bsc node imports propagated blocks only once it has completed a sync from a
peer with more total difficulty (bsc's eth/handler.go: "Syncing, discarded propagated block"
while not `synced`); the first validator, never behind anyone, starts unsynced. Three
validators settled within ~25 s in every run here; two deadlocked once (the first discarded
the second's block 3 and waited for it; 100 s without progress), and a stop and resume of
several validators (all at the same height, none synced) is untested. A fix to try: start
the first validator again, without sealing, once the others have sealed past it, so it syncs
from them, then `miner_start` it.

When one exits, or this process is asked to stop (SIGTERM, SIGINT), the others get SIGTERM
and are waited for (SIGKILL after a timeout), so a stopped cluster has closed its databases
cleanly and resumes where it stopped.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

STOP_TIMEOUT_S = 20.0


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


def _has_block_1(url: str) -> bool:
    block = _call(url, "eth_getBlockByNumber", "0x1", False)
    return block is not _FAILED and block is not None


def main(args: list[str]) -> int:
    argvs: list[list[str]] = [json.loads(a) for a in args]
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children: list[subprocess.Popen[bytes]] = [subprocess.Popen(argvs[0])]
    first = _url(argvs[0])
    while not stopping and children[0].poll() is None and not _has_block_1(first):
        time.sleep(0.1)
    for argv in argvs[1:]:
        if stopping or children[0].poll() is not None:
            break
        with open(_datadir(argv) / "bsc.log", "ab") as log:
            children.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
    waiting = {i: _url(argv) for i, argv in enumerate(argvs) if i > 0 and "--mine" not in argv}
    while waiting and not stopping and all(c.poll() is None for c in children):
        for i, url in list(waiting.items()):
            if _has_block_1(url) and _call(url, "miner_start") is not _FAILED:
                del waiting[i]
        time.sleep(0.1)
    while not stopping and all(c.poll() is None for c in children):
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
