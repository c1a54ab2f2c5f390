"""`python -m devnet.consensus [options] -- geth ...`: geth and its consensus side, one process.

Starts geth (the argv after `--`) as a child, waits for its HTTP and Engine API, then drives
block production and serves the node's public JSON-RPC. geth dies with this process
(SIGTERM to both; a parent-death signal if this one is killed outright).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from devnet.consensus.beacon import Beacon, Finality
from devnet.consensus.engine_api import EngineClient, EngineError, RpcClient, read_jwt_secret
from devnet.consensus.front import Front, ValidatorRotation

log = logging.getLogger("devnet.consensus")
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devnet.consensus",
        usage="%(prog)s [options] -- geth [geth options]",
        description="Run geth (the command after --) with a consensus side: blocks on demand or "
        "every N s, BSC-like safe/finalized tags, reorg injection, BSC's extra RPC methods.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address of the public JSON-RPC")
    parser.add_argument("--port", type=int, required=True, help="port of the public JSON-RPC")
    parser.add_argument("--geth-http", required=True, help="geth's own HTTP JSON-RPC URL")
    parser.add_argument("--engine", required=True, help="geth's Engine API URL (authrpc)")
    parser.add_argument("--jwt-secret", type=Path, required=True, help="the secret geth's authrpc uses")
    parser.add_argument("--fork", choices=("prague", "osaka"), default="osaka")
    parser.add_argument("--period", type=int, default=0, help="0 = seal on demand; N = every N s")
    parser.add_argument("--safe-lag", type=int, default=1)
    parser.add_argument("--finalized-lag", type=int, default=2)
    parser.add_argument(
        "--no-seal-until-final",
        dest="seal_until_final",
        action="store_false",
        help="on demand: do not seal empty follow-up blocks until a block with transactions is final",
    )
    parser.add_argument("--validators", type=int, default=21, help="modelled validator set size")
    parser.add_argument("--turn-length", type=int, default=16, help="modelled blocks per validator turn")
    own, geth = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    args = parser.parse_args(own)
    if not geth:
        parser.error("give geth's command line after --")
    args.geth = geth
    return args


async def _wait_for_geth(eth: RpcClient, engine: EngineClient, geth: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    while True:
        if geth.returncode is not None:
            raise SystemExit(f"geth exited with code {geth.returncode} before it was ready")
        try:
            await eth.call("eth_chainId")
            await engine.call("engine_exchangeCapabilities", [])
            return
        except (aiohttp.ClientError, EngineError, OSError):
            if time.monotonic() > deadline:
                raise SystemExit("geth's HTTP or Engine API did not answer within 60 s") from None
            await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> int:
    geth = await asyncio.create_subprocess_exec(*args.geth, preexec_fn=_die_with_parent)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        eth = RpcClient(args.geth_http, session)
        engine = EngineClient(args.engine, read_jwt_secret(args.jwt_secret), session)
        await _wait_for_geth(eth, engine, geth)
        beacon = Beacon(
            engine,
            eth,
            args.fork,
            Finality(args.safe_lag, args.finalized_lag),
            period_s=args.period,
            seal_until_final=args.seal_until_final,
        )
        await beacon.start()
        front = Front(beacon, args.geth_http, session, ValidatorRotation(args.validators, args.turn_length))
        runner = web.AppRunner(front.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, args.host, args.port).start()
        log.info("consensus: serving JSON-RPC on %s:%d; head #%d", args.host, args.port, beacon.head.number)
        sealing = asyncio.create_task(beacon.run())
        geth_exit = asyncio.create_task(geth.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({geth_exit, stopping}, return_when=asyncio.FIRST_COMPLETED)
        sealing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sealing
        await runner.cleanup()
    if geth.returncode is None:
        geth.terminate()
        try:
            await asyncio.wait_for(geth.wait(), 15)
        except TimeoutError:
            geth.kill()
        return 0
    log.error("consensus: geth exited with code %s", geth.returncode)
    return geth.returncode or 1


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("DEVNET_CONSENSUS_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # On uvloop where it is installed (a dependency, as for the services): the front relays every
    # JSON-RPC call of every client, and uvloop's compiled loop costs less CPU per call.
    try:
        import uvloop
    except ImportError:
        sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
    sys.exit(uvloop.run(main(parse(sys.argv[1:]))))
