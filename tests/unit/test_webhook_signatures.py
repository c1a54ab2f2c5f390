"""The webhook protocol: HMAC-SHA256 over "t.body", checked in constant time, 300 s tolerance."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from devnet.core.webhooks import SignatureRefused, check_signature, sign

SECRET = "whsec_unit"
BODY = b'{"id":"evt_1","type":"account.credited","created_at":"2026-01-01T00:00:00Z","data":{}}'
NOW = 1_800_000_000


def test_the_header_is_stripes_scheme() -> None:
    mac = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, timestamp=NOW) == f"t={NOW},v1={mac}"


def test_a_fresh_signature_of_the_same_bytes_is_accepted() -> None:
    check_signature(SECRET, sign(SECRET, BODY, timestamp=NOW - 299), BODY, now=NOW)


@pytest.mark.parametrize(
    ("header", "body", "title"),
    [
        (None, BODY, "Missing webhook signature"),
        ("", BODY, "Missing webhook signature"),
        ("v1=abc", BODY, "Malformed webhook signature"),
        ("t=soon,v1=abc", BODY, "Malformed webhook signature"),
        (sign(SECRET, BODY, timestamp=NOW - 301), BODY, "Stale webhook signature"),
        (sign(SECRET, BODY, timestamp=NOW + 301), BODY, "Stale webhook signature"),
        (sign(SECRET, BODY, timestamp=NOW), BODY + b" ", "Bad webhook signature"),
        (sign("whsec_other", BODY, timestamp=NOW), BODY, "Bad webhook signature"),
    ],
)
def test_what_is_refused_says_why(header: str | None, body: bytes, title: str) -> None:
    with pytest.raises(SignatureRefused) as refused:
        check_signature(SECRET, header, body, now=NOW)
    assert refused.value.title == title
