"""The mock gold custodian, run as a real process: Good Delivery weight list, allocation,
signed attestations, XAU/USD price paths, signed webhooks, and durability across SIGKILL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from devnet.core.attestation import DEFAULT_SIGNING_KEY
from devnet.core.http import ApiError
from devnet.core.wait import wait_until
from devnet.core.webhooks import SIGNATURE_HEADER, sign
from devnet.services.custodian.api import (
    AttestationOut,
    BarMoved,
    BarOut,
    BarStatus,
    ConstantPath,
    PriceOut,
    PricePathKind,
    RandomWalkPath,
    ShockPath,
)
from devnet.services.custodian.bars import fine_oz_milli
from devnet.services.custodian.client import CustodianClient, verify_attestation
from devnet.services.custodian.price import random_walk_price
from devnet.services.launch import ServiceHandle, start_service
from harness.webhook_sink import WebhookSink

SECRET = "whsec_devnet_custodian"
ADMIN = {"Authorization": "Bearer devnet-admin"}
POOLS = ["USDKG", "GOLDA", "GOLDB", "GOLDC", "GOLDD"]
E8 = 10**8
#: Tests on the module's shared service stay on one worker under `--dist loadgroup` (as tox runs
#: them); the tests that start a service of their own spread freely. Under plain `-n`, each
#: worker starts its own shared service, which is just as safe.
shared = pytest.mark.xdist_group("custodian-service")
ATTESTATION_KEYS = {
    "id",
    "pool",
    "total_fine_oz_milli",
    "bar_count",
    "as_of",
    "message",
    "signature",
    "signer",
}


def serial() -> str:
    return f"T{uuid.uuid4().hex[:12].upper()}"


def bar_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "serial": serial(),
        "brand": "Valcambi SA",
        "year": 2021,
        "gross_oz_milli": 400_025,
        "assay_tenths": 9999,
    }
    body.update(overrides)
    return body


def deposit(client: CustodianClient, **overrides: Any) -> BarOut:
    b = bar_body(**overrides)
    return client.deposit_bar(
        b["serial"], b["brand"], b["year"], b["gross_oz_milli"], b["assay_tenths"], pool=b.get("pool")
    )


@pytest.fixture(scope="module")
def sink() -> Iterator[WebhookSink]:
    s = WebhookSink(SECRET)
    yield s
    s.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sink: WebhookSink) -> Iterator[ServiceHandle]:
    handle = start_service(
        "custodian",
        tmp_path_factory.mktemp("custodian"),
        settings={"webhook_subscribers": [sink.url], "pools": POOLS, "price_tick_interval_s": 0},
    )
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def client(service: ServiceHandle) -> Iterator[CustodianClient]:
    c = CustodianClient(service.url)
    yield c
    c.close()


def post_raw(url: str, path: str, body: dict[str, Any], key: str) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, headers={"Idempotency-Key": key}, timeout=10)


# ---- bars and the weight list -----------------------------------------------------------------


@shared
def test_deposit_and_read_back(service: ServiceHandle, client: CustodianClient) -> None:
    bar = deposit(client, gross_oz_milli=401_275, assay_tenths=9965, year=2019, brand="PAMP SA")
    assert bar.status == BarStatus.VAULTED and bar.pool is None
    assert bar.fine_oz_milli == 399_870  # 401.275 x 0.9965 = 399.8705375 -> 399.870
    assert client.bar(bar.serial) == bar
    assert bar in client.bars(status=BarStatus.VAULTED)
    listed = client.weight_list()
    assert bar.serial in {b.serial for b in listed.bars}
    assert listed.pool is None
    assert listed.totals.bar_count == len(listed.bars)
    assert listed.totals.fine_oz_milli == sum(b.fine_oz_milli for b in listed.bars)
    on_the_wire = httpx.get(f"{service.url}/bars/{bar.serial}", timeout=10).json()
    assert datetime.fromisoformat(on_the_wire["deposited_at"]).tzinfo is not None


@shared
def test_fine_oz_is_truncated_to_three_decimals(client: CustodianClient) -> None:
    # 400.025 oz x 0.9999 = 399.9849975 oz; truncated (not rounded) to 399.984
    bar = deposit(client, gross_oz_milli=400_025, assay_tenths=9999)
    assert bar.fine_oz_milli == 399_984
    assert fine_oz_milli(400_000, 9950) == 398_000
    assert fine_oz_milli(350_050, 9999) == 350_014


@shared
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"gross_oz_milli": 400_010}, "body.gross_oz_milli"),  # not a 0.025 oz step
        ({"assay_tenths": 9949}, "body.assay_tenths"),  # below 995.0
        ({"assay_tenths": 10_001}, "body.assay_tenths"),
        ({"gross_oz_milli": 350_000}, "body.gross_oz_milli"),  # 349.965 fine oz < 350
        ({"gross_oz_milli": 430_100}, "body.gross_oz_milli"),  # 430.056 fine oz > 430
        ({"year": 1899}, "body.year"),
        ({"year": datetime.now(UTC).year + 1}, "body.year"),
        ({"gross_oz_milli": 400_000.5}, "body.gross_oz_milli"),  # no floats in weights
        ({"gross_oz_milli": "400000"}, "body.gross_oz_milli"),
        ({"pool": "NOPE"}, "body.pool"),
        ({"serial": ""}, "body.serial"),
    ],
)
def test_bars_outside_good_delivery_are_refused(
    service: ServiceHandle, client: CustodianClient, overrides: dict[str, Any], field: str
) -> None:
    body = bar_body(**overrides)
    reply = post_raw(service.url, "/bars", body, str(uuid.uuid4()))
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["field"] == field
    if body["serial"]:
        with pytest.raises(ApiError) as err:
            client.bar(body["serial"])
        assert err.value.status == 404 and err.value.field == "path.serial"


@shared
def test_duplicate_serial_is_refused(client: CustodianClient) -> None:
    bar = deposit(client)
    with pytest.raises(ApiError) as err:
        deposit(client, serial=bar.serial, gross_oz_milli=399_000)
    assert err.value.status == 409 and err.value.field == "body.serial"
    assert client.bar(bar.serial) == bar


@shared
def test_idempotent_writes_replay(service: ServiceHandle, client: CustodianClient) -> None:
    body = bar_body()
    key = str(uuid.uuid4())
    first = post_raw(service.url, "/bars", body, key)
    again = post_raw(service.url, "/bars", body, key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert [b.serial for b in client.bars() if b.serial == body["serial"]] == [body["serial"]]

    other = post_raw(service.url, "/bars", {**body, "serial": serial()}, key)
    assert other.status_code == 422 and other.json()["field"] == "header.Idempotency-Key"

    # a state change replays too, instead of answering "already allocated"
    path = f"/bars/{body['serial']}/allocate"
    alloc_key = str(uuid.uuid4())
    one = post_raw(service.url, path, {"pool": "USDKG"}, alloc_key)
    two = post_raw(service.url, path, {"pool": "USDKG"}, alloc_key)
    assert one.status_code == two.status_code == 200 and one.json() == two.json()
    assert post_raw(service.url, path, {"pool": "USDKG"}, str(uuid.uuid4())).status_code == 409
    # the same key for another bar is a different request
    assert (
        post_raw(service.url, f"/bars/{serial()}/allocate", {"pool": "USDKG"}, alloc_key).status_code == 422
    )

    missing = httpx.post(f"{service.url}/bars", json=bar_body(), timeout=10)
    assert missing.status_code == 422 and missing.json()["field"] == "header.Idempotency-Key"


# ---- allocation and attestations --------------------------------------------------------------


@shared
def test_attestation_totals_follow_deposits_allocations_and_releases(client: CustodianClient) -> None:
    pool = "GOLDA"

    def latest() -> tuple[int, int]:
        att = client.latest_attestation(pool)
        assert verify_attestation(att) == att.signer
        return att.total_fine_oz_milli, att.bar_count

    assert latest() == (0, 0)  # the genesis attestation
    a = deposit(client, pool=pool, gross_oz_milli=400_025, assay_tenths=9999)  # 399.984 fine
    assert a.status == BarStatus.ALLOCATED and a.pool == pool
    assert latest() == (399_984, 1)

    b = deposit(client, gross_oz_milli=400_000, assay_tenths=9950)  # 398.000 fine, unallocated
    before = client.latest_attestation(pool)
    assert latest() == (399_984, 1)
    allocated = client.allocate_bar(b.serial, pool)
    assert allocated.status == BarStatus.ALLOCATED and allocated.pool == pool
    assert client.latest_attestation(pool).id != before.id
    assert latest() == (797_984, 2)

    weights = client.weight_list(pool)
    assert weights.pool == pool
    assert [x.serial for x in weights.bars] == sorted([a.serial, b.serial])
    assert weights.totals.model_dump() == {
        "bar_count": 2,
        "gross_oz_milli": 800_025,
        "fine_oz_milli": 797_984,
    }
    assert {x.serial for x in client.bars(pool=pool)} == {a.serial, b.serial}

    deallocated = client.deallocate_bar(a.serial)
    assert deallocated.status == BarStatus.VAULTED and deallocated.pool is None
    assert latest() == (398_000, 1)

    released = client.release_bar(b.serial)  # allocated: deallocated on the way out
    assert released.status == BarStatus.RELEASED and released.pool is None and released.released_at
    assert latest() == (0, 0)
    assert client.weight_list(pool).totals.model_dump() == {
        "bar_count": 0,
        "gross_oz_milli": 0,
        "fine_oz_milli": 0,
    }
    assert b.serial not in {x.serial for x in client.weight_list().bars}
    assert b.serial in {x.serial for x in client.bars(status=BarStatus.RELEASED)}

    for call, field in [
        (lambda: client.allocate_bar(b.serial, pool), "path.serial"),  # released
        (lambda: client.release_bar(b.serial), "path.serial"),
        (lambda: client.deallocate_bar(a.serial), "path.serial"),  # not allocated
    ]:
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 409 and err.value.field == field
    with pytest.raises(ApiError) as err:
        client.allocate_bar(a.serial, "NOPE")
    assert err.value.status == 422 and err.value.field == "body.pool"
    with pytest.raises(ApiError) as err:
        client.allocate_bar(serial(), pool)
    assert err.value.status == 404 and err.value.field == "path.serial"

    published = client.publish_attestation(pool)
    assert (published.total_fine_oz_milli, published.bar_count) == (0, 0)
    assert client.latest_attestation(pool) == published == client.attestation(published.id)


@shared
def test_attestation_signature_recovers_to_the_signer(
    service: ServiceHandle, client: CustodianClient
) -> None:
    pool = "GOLDB"
    deposit(client, pool=pool)
    att = client.publish_attestation(pool)
    on_the_wire = httpx.get(f"{service.url}/attestations/{att.id}", timeout=10).json()
    assert set(on_the_wire) == ATTESTATION_KEYS
    assert att.pool == pool and isinstance(on_the_wire["as_of"], int) and att.signature.startswith("0x")
    for name in ("pool", "total_fine_oz_milli", "bar_count", "as_of"):
        assert f"{name}={getattr(att, name)}" in att.message

    signer = Account.from_key(DEFAULT_SIGNING_KEY).address
    assert att.signer == signer == client.info().signer
    assert Account.recover_message(encode_defunct(text=att.message), signature=att.signature) == signer
    assert verify_attestation(att) == signer

    inflated = att.message.replace(
        f"total_fine_oz_milli={att.total_fine_oz_milli}",
        f"total_fine_oz_milli={att.total_fine_oz_milli * 10}",
    )
    assert inflated != att.message
    assert Account.recover_message(encode_defunct(text=inflated), signature=att.signature) != signer
    # changing a field alone is caught; changing field and message no longer recovers the signer
    with pytest.raises(ValueError):
        verify_attestation(att.model_copy(update={"total_fine_oz_milli": att.total_fine_oz_milli * 10}))
    forged = att.model_copy(update={"total_fine_oz_milli": att.total_fine_oz_milli * 10, "message": inflated})
    assert verify_attestation(forged) != signer

    with pytest.raises(ApiError) as err:
        client.latest_attestation("NOPE")
    assert err.value.status == 422 and err.value.field == "query.pool"
    with pytest.raises(ApiError) as err:
        client.attestation("att_missing")
    assert err.value.status == 404


# ---- XAU/USD ----------------------------------------------------------------------------------


@shared
def test_price_constant_path(service: ServiceHandle, client: CustodianClient) -> None:
    client.set_price_path(ConstantPath())
    price = client.price()
    assert price == PriceOut(
        pair="XAU/USD", price_e8=2_650 * E8, as_of=price.as_of, path=PricePathKind.CONSTANT
    )
    assert isinstance(httpx.get(f"{service.url}/price", timeout=10).json()["as_of"], int)
    ticked = client.tick_price(3)
    assert ticked.price_e8 == 2_650 * E8 and ticked.as_of >= price.as_of
    client.set_price_path(ConstantPath(price_e8=2_700_12 * 10**6))
    assert client.price().price_e8 == 270_012_000_000


@shared
def test_price_random_walk_is_repeatable_for_a_seed(client: CustodianClient) -> None:
    path = RandomWalkPath(path="random_walk", seed=42, start_price_e8=2_650 * E8, step_bps=25)
    state = client.set_price_path(path)
    assert state.tick == 0 and state.price_e8 == 2_650 * E8
    first = [client.tick_price().price_e8 for _ in range(6)]
    assert all(isinstance(p, int) for p in first)
    assert len(set(first)) > 1
    for before, after in zip([2_650 * E8, *first], first, strict=False):
        assert abs(after - before) * 10_000 <= before * 25 + 10_000  # at most 25 bps a tick

    client.set_price_path(path)
    assert client.tick_price(6).price_e8 == first[-1]  # 6 ticks at once: the same place
    assert client.price_path().tick == 6
    assert first == [random_walk_price(path, n) for n in range(1, 7)]

    client.set_price_path(path.model_copy(update={"seed": 43}))
    other = [client.tick_price().price_e8 for _ in range(6)]
    assert other != first
    assert client.price().path == PricePathKind.RANDOM_WALK


@shared
def test_price_shock_path(service: ServiceHandle, client: CustodianClient) -> None:
    client.set_price_path(
        ShockPath.model_validate(
            {
                "path": "shock",
                "start_price_e8": 2_650 * E8,
                "steps": [{"at_tick": 2, "price_e8": 2_500 * E8}, {"at_tick": 4, "price_e8": 2_400 * E8}],
            }
        )
    )
    assert client.price().price_e8 == 2_650 * E8
    assert [client.tick_price().price_e8 // E8 for _ in range(5)] == [2_650, 2_500, 2_500, 2_400, 2_400]
    assert client.price().path == PricePathKind.SHOCK

    def put_path(path: dict[str, Any]) -> httpx.Response:
        return httpx.put(f"{service.url}/admin/price-path", json=path, headers=ADMIN, timeout=10)

    reply = put_path({"path": "shock", "steps": [{"price_e8": E8}]})  # a step needs exactly one trigger
    assert reply.status_code == 422
    reply = put_path({"path": "constant", "price_e8": 2650.5})  # no floats in prices
    assert reply.status_code == 422 and "price_e8" in reply.json()["field"]


@shared
def test_price_admin_endpoints_need_the_token(service: ServiceHandle, client: CustodianClient) -> None:
    intruder = CustodianClient(service.url, admin_token="wrong", retries=0)
    try:
        for call in (
            lambda: intruder.set_price_path(ConstantPath(price_e8=E8)),
            lambda: intruder.tick_price(),
            lambda: intruder.price_path(),
        ):
            with pytest.raises(ApiError) as err:
                call()
            assert err.value.status == 401 and err.value.field == "header.Authorization"
    finally:
        intruder.close()
    anonymous = httpx.post(f"{service.url}/price/tick", json={}, headers={"Idempotency-Key": "x"}, timeout=10)
    assert anonymous.status_code == 401
    assert client.price().price_e8 != E8
    # with the token a tick still needs an Idempotency-Key, like every write
    keyless = httpx.post(
        f"{service.url}/price/tick", json={}, headers={"Authorization": "Bearer devnet-admin"}, timeout=10
    )
    assert keyless.status_code == 422 and keyless.json()["field"] == "header.Idempotency-Key"


# ---- webhooks ---------------------------------------------------------------------------------


@shared
def test_webhooks_are_signed_and_delivered(client: CustodianClient, sink: WebhookSink) -> None:
    pool = "GOLDC"
    a = deposit(client, pool=pool)
    b = deposit(client)
    client.allocate_bar(b.serial, pool)
    client.deallocate_bar(a.serial)
    client.release_bar(a.serial)
    att = client.publish_attestation(pool)
    marker = 2_611 * E8 + uuid.uuid4().int % E8
    client.set_price_path(ConstantPath(price_e8=marker))

    def of(events: list[dict[str, Any]], type_: str, serial_: str) -> list[dict[str, Any]]:
        return [e for e in events if e["type"] == type_ and e["data"].get("serial") == serial_]

    def arrived(events: list[dict[str, Any]]) -> bool:
        return (
            len(of(events, "bar.deposited", a.serial)) == 1
            and len(of(events, "bar.allocated", a.serial)) == 1
            and len(of(events, "bar.allocated", b.serial)) == 1
            and len(of(events, "bar.deallocated", a.serial)) == 1
            and len(of(events, "bar.released", a.serial)) == 1
            and any(e["type"] == "attestation.published" and e["data"]["id"] == att.id for e in events)
            and any(e["type"] == "price.updated" and e["data"]["price_e8"] == marker for e in events)
        )

    events = sink.wait_for(arrived)
    assert BarMoved.model_validate(of(events, "bar.deallocated", a.serial)[0]["data"]).previous_pool == pool
    assert (
        BarMoved.model_validate(of(events, "bar.released", a.serial)[0]["data"]).status == BarStatus.RELEASED
    )
    published = next(e for e in events if e["type"] == "attestation.published" and e["data"]["id"] == att.id)
    assert published["data"] == att.model_dump(mode="json")
    assert AttestationOut.model_validate(published["data"]) == att
    # auto-published on each change of the pool's allocated set
    assert len([e for e in events if e["type"] == "attestation.published" and e["data"]["pool"] == pool]) >= 5
    assert sink.rejected == []


@shared
def test_sink_refuses_bad_signatures(
    service: ServiceHandle, client: CustodianClient, sink: WebhookSink
) -> None:
    # the custodian's signature does not verify under another secret
    stranger = WebhookSink("whsec_not_the_custodian")
    try:
        client.subscribe(stranger.url)
        deposit(client)
        stranger.wait_for(lambda _events: bool(stranger.rejected), timeout=15)
        assert stranger.events == []
    finally:
        stranger.close()
    # a forged or tampered delivery to the real sink is refused
    event = {"id": "evt_forged", "type": "bar.released", "created_at": "", "data": {"serial": "X"}}
    body = json.dumps(event).encode()
    rejected = len(sink.rejected)
    for signature in (sign("whsec_wrong_secret", body), sign(SECRET, body + b" "), "t=1,v1=00"):
        reply = httpx.post(
            sink.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Webhook-Id": "evt_forged",
                SIGNATURE_HEADER: signature,
            },
            timeout=10,
        )
        assert reply.status_code == 401
    assert len(sink.rejected) == rejected + 3
    assert not [e for e in sink.events if e["id"] == "evt_forged"]


# ---- background ticks and settings ------------------------------------------------------------


def test_price_path_from_settings_moves_on_the_ticker(tmp_path: Path) -> None:
    shocked = 2_100 * E8
    handle = start_service(
        "custodian",
        tmp_path,
        settings={
            "price_path": {
                "path": "shock",
                "start_price_e8": 2_650 * E8,
                "steps": [{"at_tick": 3, "price_e8": shocked}],
            },
            "price_tick_interval_s": 0.05,
            "attestation_interval_s": 0.1,
        },
    )
    client = CustodianClient(handle.url)
    try:
        genesis = client.latest_attestation("USDKG")
        assert client.price().path == PricePathKind.SHOCK
        wait_until(lambda: client.price().price_e8 == shocked, 20, "the shocked price")
        assert client.price_path().tick >= 3
        wait_until(lambda: client.latest_attestation("USDKG").id != genesis.id, 20, "a scheduled one")
    finally:
        client.close()
        handle.stop()


# ---- durability -------------------------------------------------------------------------------


def test_sigkill_and_restart_lose_nothing_acknowledged(tmp_path: Path) -> None:
    down = WebhookSink(SECRET)
    down.answer = 500  # the receiver is down: every event stays in the outbox
    settings = {
        "webhook_subscribers": [down.url],
        "price_tick_interval_s": 0,
        "webhook_retry_base_s": 0.05,
        "webhook_retry_max_s": 0.2,
    }
    handle = start_service("custodian", tmp_path, settings=settings)
    client = CustodianClient(handle.url)
    try:
        bars = [deposit(client, pool="USDKG"), deposit(client), deposit(client), deposit(client)]
        key = str(uuid.uuid4())
        bars[1] = client.allocate_bar(bars[1].serial, "USDKG", key=key)
        bars[2] = client.release_bar(bars[2].serial)
        att = client.publish_attestation("USDKG")
        client.set_price_path(RandomWalkPath(path="random_walk", seed=7, step_bps=50))
        price = client.tick_price(3)
        state = client.price_path()

        handle.kill()
        client.close()
        handle = start_service("custodian", tmp_path, settings=settings)
        client = CustodianClient(handle.url)

        for bar in bars:
            assert client.bar(bar.serial) == bar
        assert client.latest_attestation("USDKG") == att
        assert client.price() == price
        assert client.price_path() == state
        replay = post_raw(handle.url, f"/bars/{bars[1].serial}/allocate", {"pool": "USDKG"}, key)
        assert replay.status_code == 200 and replay.json() == bars[1].model_dump(mode="json")
        assert replay.headers.get("Idempotent-Replayed") == "true"

        down.answer = 200  # the receiver is back: the queued events arrive after the restart
        serials = {b.serial for b in bars}
        events = down.wait_for(
            lambda ev: (
                {e["data"]["serial"] for e in ev if e["type"] == "bar.deposited"} >= serials
                and any(e["type"] == "attestation.published" and e["data"]["id"] == att.id for e in ev)
                and any(e["type"] == "price.updated" and e["data"]["price_e8"] == price.price_e8 for e in ev)
                and any(e["type"] == "bar.released" and e["data"]["serial"] == bars[2].serial for e in ev)
            ),
            timeout=20,
        )
        assert len({e["id"] for e in events}) >= 8
    finally:
        client.close()
        handle.stop()
        down.close()


def test_random_walk_depends_only_on_seed_and_ticks() -> None:
    path = RandomWalkPath(path="random_walk", seed=9, step_bps=100)
    assert random_walk_price(path, 50) == random_walk_price(path, 50)
    assert random_walk_price(path, 0) == path.start_price_e8
    assert random_walk_price(path, 50) != random_walk_price(path.model_copy(update={"seed": 10}), 50)
