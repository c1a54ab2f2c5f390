"""How a flow waits for the issuer's outcome: one long poll at a time, repeated until the mint is
settled or the payout made (or the flow's timeout), a restarting issuer counting as "not yet".
The issuer is a stand-in answering over httpx's MockTransport."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from devnet.core.http import ApiError
from devnet.services.issuer.api import MintStatus, RedemptionStatus
from devnet.services.issuer.client import IssuerClient
from harness.flows import LONG_POLL_S, settled_mint, settled_payout
from tests.unit.captured_answers import MINT_MINTED, REDEMPTION_PAID

NOT_FOUND = {"type": "about:blank", "title": "No mint for this payment (yet)", "status": 404}


def mint(status: MintStatus) -> dict[str, Any]:
    return {**copy.deepcopy(MINT_MINTED), "status": status}


def redemption(status: RedemptionStatus) -> dict[str, Any]:
    return {**copy.deepcopy(REDEMPTION_PAID), "status": status}


@dataclass
class Issuer:
    """Answers the requests with `script` in order (an exception is raised, as a refused
    connection is); a 404 or an answer that is not settled comes after the request's wait, as
    the real issuer's do. Records each request's wait and read timeout."""

    script: list[Any]
    seen: list[tuple[float, float]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        wait = float(request.url.params.get("wait", 0))
        self.seen.append((wait, request.extensions["timeout"]["read"]))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        status, body = step
        if status == 404 or body in ([], [redemption(RedemptionStatus.PENDING)]):
            time.sleep(min(wait, 0.2))  # (a real wait out, shortened)
        return httpx.Response(status, json=body)


@pytest.fixture
def issuer() -> Iterator[IssuerClient]:
    client = IssuerClient("http://issuer.test", retries=0)  # each failure reaches the flow
    yield client
    client.close()


def devnet_with(client: IssuerClient, script: list[Any]) -> tuple[Any, Issuer]:
    fake = Issuer(script)
    client._http = httpx.Client(
        base_url=client.base_url, transport=httpx.MockTransport(fake), timeout=client.timeout
    )
    return SimpleNamespace(issuer=client), fake


def test_a_mint_is_awaited_with_one_long_poll_at_a_time_until_it_is_settled(issuer: IssuerClient) -> None:
    devnet, fake = devnet_with(
        issuer, [(404, NOT_FOUND), (200, mint(MintStatus.SENT)), (200, mint(MintStatus.MINTED))]
    )
    assert settled_mint(devnet, "pmt_cd21b790c32b3b74ff19", timeout=60).status == MintStatus.MINTED
    assert [wait for wait, _ in fake.seen] == [LONG_POLL_S] * 3
    assert all(read_timeout > wait for wait, read_timeout in fake.seen)  # the answer can wait that long


def test_a_mint_held_or_failed_is_settled_too(issuer: IssuerClient) -> None:
    devnet, _ = devnet_with(issuer, [(200, mint(MintStatus.HELD))])
    assert settled_mint(devnet, "pmt_x", timeout=60).status == MintStatus.HELD


def test_an_issuer_down_or_restarting_is_not_yet(issuer: IssuerClient) -> None:
    devnet, fake = devnet_with(
        issuer,
        [
            httpx.ConnectError("refused"),
            (503, {"title": "Injected fault", "status": 503}),
            httpx.ReadError("reset"),
            (200, mint(MintStatus.MINTED)),
        ],
    )
    assert settled_mint(devnet, "pmt_x", timeout=60).status == MintStatus.MINTED
    assert len(fake.seen) == 4


def test_a_refusal_ends_the_wait_at_once(issuer: IssuerClient) -> None:
    devnet, fake = devnet_with(issuer, [(422, {"title": "Invalid request", "status": 422}), (404, NOT_FOUND)])
    with pytest.raises(ApiError) as refused:
        settled_mint(devnet, "pmt_x", timeout=60)
    assert refused.value.status == 422 and len(fake.seen) == 1


def test_no_long_poll_waits_past_the_flows_timeout(issuer: IssuerClient) -> None:
    devnet, fake = devnet_with(issuer, [(404, NOT_FOUND)] * 100)
    with pytest.raises(TimeoutError):
        settled_mint(devnet, "pmt_x", timeout=0.5)
    assert fake.seen and all(wait <= 0.5 for wait, _ in fake.seen)


def test_a_payout_is_awaited_with_long_polls_until_the_redemption_leaves_pending(
    issuer: IssuerClient,
) -> None:
    pending, paid = redemption(RedemptionStatus.PENDING), redemption(RedemptionStatus.PAID)
    devnet, fake = devnet_with(issuer, [(200, []), (200, [pending]), (200, [paid])])
    assert settled_payout(devnet, REDEMPTION_PAID["tx_hash"], timeout=60).status == RedemptionStatus.PAID
    assert [wait for wait, _ in fake.seen] == [LONG_POLL_S] * 3
