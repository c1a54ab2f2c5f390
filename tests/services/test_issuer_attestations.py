"""The issuer reports only what the custodian signed: an attestation whose fields differ from
its signed message is refused and logged, whoever answers in the custodian's place."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from eth_account import Account

from devnet.core.attestation import DEFAULT_SIGNING_KEY
from devnet.profile import Engine
from devnet.services.custodian.client import CustodianClient
from tests.services.worldkit import World, wait_until

pytestmark = pytest.mark.xdist_group("attestation-world")


class TamperingProxy:
    """Forwards to the real custodian; while `tamper` is on, doubles the ounces in the latest
    attestation's JSON fields and leaves its signed message and signature as they were."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.tamper = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                reply = httpx.get(proxy.upstream + self.path, timeout=10)
                body = reply.content
                if proxy.tamper and self.path.startswith("/attestations/latest") and reply.status_code == 200:
                    attestation = reply.json()
                    attestation["total_fine_oz_milli"] *= 2
                    body = json.dumps(attestation).encode()
                self.send_response(reply.status_code)
                self.send_header("Content-Type", reply.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                reply = httpx.post(
                    proxy.upstream + self.path, content=self.rfile.read(length), headers=headers, timeout=10
                )
                self.send_response(reply.status_code)
                self.send_header("Content-Type", reply.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, world_engine: Engine
) -> Iterator[tuple[World, TamperingProxy]]:
    w = World.start(tmp_path_factory.mktemp("attestation-world"), world_engine)
    custodian = w.start_service("custodian", price_tick_interval_s=0)
    proxy = TamperingProxy(custodian.url)
    w.start_service(
        "issuer",
        env_file=str(w.root / "devnet" / "env.json"),
        custodian_url=proxy.url,
        custodian_signer=Account.from_key(DEFAULT_SIGNING_KEY).address,
        report_interval_s=0.2,
    )
    yield w, proxy
    proxy.close()
    w.stop()


def _ounces_on_chain(w: World) -> int:
    return int(w.token("USDKG").feeds["ounces"].functions.latestRoundData().call()[1])


def test_an_attestation_whose_fields_differ_from_its_signed_message_is_refused_and_logged(
    world: tuple[World, TamperingProxy],
) -> None:
    w, proxy = world
    vault = CustodianClient(w.services["custodian"].url)
    vault.deposit_bar(f"KG-{uuid.uuid4().hex[:8]}", "Kyrgyzaltyn", 2025, 400_000, 9_999, pool="USDKG")
    honest = vault.weight_list(pool="USDKG").totals.fine_oz_milli
    wait_until(lambda: _ounces_on_chain(w) == honest, what="the signed ounces reported")

    proxy.tamper = True
    vault.deposit_bar(f"KG-{uuid.uuid4().hex[:8]}", "Kyrgyzaltyn", 2025, 400_000, 9_999, pool="USDKG")
    signed_now = vault.weight_list(pool="USDKG").totals.fine_oz_milli
    log = w.services["issuer"].process.log_path
    wait_until(
        lambda: "fields differ from its signed message" in log.read_text(),
        what="the refusal in the issuer's log",
    )
    # Neither the doubled figure nor anything unsigned reached the feed.
    assert _ounces_on_chain(w) == honest != 2 * signed_now

    proxy.tamper = False  # an honest answer again: reported at once
    wait_until(lambda: _ounces_on_chain(w) == signed_now, what="the signed ounces reported again")
