"""Every HTTP client of the devnet shares one TLS context, with httpx's own default settings
(each `httpx.Client()` otherwise loads the CA bundle again: 24 ms of CPU here)."""

from __future__ import annotations

import ssl

import httpx

from devnet.core.http import ServiceClient, tls_context
from devnet.core.rpc import Rpc


def test_one_context_with_httpx_defaults_verifies_hosts() -> None:
    ctx = tls_context()
    assert ctx is tls_context()
    default = httpx.create_ssl_context()
    assert ctx.verify_mode == default.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname and default.check_hostname
    assert ctx.cert_store_stats() == default.cert_store_stats()  # the same CA bundle
    assert ctx.minimum_version == default.minimum_version


def test_service_and_rpc_clients_use_it() -> None:
    service, rpc = ServiceClient("https://bank.example"), Rpc("https://node.example")
    try:
        for client in (service._http, rpc._client):
            pool = client._transport._pool  # type: ignore[attr-defined]
            assert pool._ssl_context is tls_context()
    finally:
        service.close()
        rpc.close()
