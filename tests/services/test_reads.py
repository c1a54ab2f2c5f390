"""Reads never take the writer lock: every GET of every service answers while another process
holds its store's writer lock (SQLite's BEGIN IMMEDIATE on the service's own file).

A GET that took the lock would wait for it until the store's busy timeout and answer a 500
("database is locked"); the lock is let go only once every GET has answered."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from devnet.core.env import DevnetEnv
from devnet.profile import Engine
from devnet.world import down, up

pytestmark = pytest.mark.xdist_group("reads-world")

SERVICES = ("bank", "custodian", "issuer", "exchange")
ADMIN = {"Authorization": "Bearer devnet-admin"}
#: Values for the parameters a GET cannot do without (others get 1 or "x": a 404 is an answer).
SAMPLES: dict[str, Any] = {"pool": "USDKG", "tx_hash": "0x" + "00" * 32}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_engine: Engine) -> Iterator[tuple[Path, DevnetEnv]]:
    root = tmp_path_factory.mktemp("reads-world")
    env = up(root, engine=world_engine, services=dict.fromkeys(SERVICES))
    yield root, env
    down(root)


def every_get(base_url: str) -> list[str]:
    """A URL for each GET operation the service's OpenAPI schema lists."""
    schema = httpx.get(f"{base_url}/openapi.json").json()
    urls = []
    for path, item in schema["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        query: dict[str, Any] = {}
        for parameter in operation.get("parameters", []):
            name, where = parameter["name"], parameter["in"]
            value = SAMPLES.get(name, 1 if parameter.get("schema", {}).get("type") == "integer" else "x")
            if where == "path":
                path = path.replace(f"{{{name}}}", str(value))
            elif where == "query" and parameter.get("required"):
                query[name] = value
        urls.append(str(httpx.URL(f"{base_url}{path}", params=query)))
    return urls


@contextmanager
def writer_lock_held(store: Path) -> Iterator[None]:
    """Hold `store`'s writer lock from another process's connection (this one's) until the end."""
    connection = sqlite3.connect(store, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


@pytest.mark.parametrize("name", SERVICES)
def test_every_get_answers_while_another_process_holds_the_writer_lock(
    world: tuple[Path, DevnetEnv], name: str
) -> None:
    root, env = world
    url = env.services[name]
    (store,) = root.rglob(f"{name}.db")
    urls = every_get(url)
    assert len(urls) >= 3, urls
    failed: dict[str, str] = {}
    with writer_lock_held(store), httpx.Client(headers=ADMIN, timeout=60) as client:
        for get in urls:
            try:
                status = client.get(get).status_code
            except httpx.HTTPError as e:  # a 500 that ends in a reset connection
                failed[get] = type(e).__name__
            else:
                if status >= 500:
                    failed[get] = f"HTTP {status}"
    assert not failed, f"{name}: GETs that failed while the writer lock was held: {failed}"
