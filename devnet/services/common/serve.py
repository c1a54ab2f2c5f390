"""Run a service with uvicorn: `python -m devnet.services.<name> [--port N] [--config FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import socket
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from devnet.services.common.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


class _Server(uvicorn.Server):
    """uvicorn's server, which on a stop signal first ends the app's long polls (each answers the
    state then): otherwise it would wait them out before it exits, up to their 30 s."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]):
        super().__init__(config)
        self._on_exit = on_exit
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is not None:  # run on the loop: a signal handler may interrupt anything
            self._loop.call_soon_threadsafe(self._on_exit)
        super().handle_exit(sig, frame)


def main(
    name: str, settings_cls: type[S], create_app: Callable[[S], FastAPI], argv: list[str] | None = None
) -> None:
    parser = argparse.ArgumentParser(
        prog=f"python -m devnet.services.{name}", description=f"Run the {name} service."
    )
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite file in --data-dir)")
    parser.add_argument("--data-dir", type=Path, help="folder for the SQLite file")
    parser.add_argument("--config", type=Path, help="TOML file with the service's settings")
    args = parser.parse_args(argv)
    values: dict[str, Any] = tomllib.loads(args.config.read_text()) if args.config else {}
    for key in ("host", "port", "database_url", "data_dir"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    settings = settings_cls(**values)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port or 8000,
        log_level="info",
        access_log=settings.access_log,
    )
    _Server(config, on_exit=app.state.ctx.changes.close).run()
