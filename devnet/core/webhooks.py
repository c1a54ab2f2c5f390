"""The webhook protocol every service speaks and every receiver checks.

A delivery is a JSON event (`WebhookEvent`) POSTed with two headers:
`Webhook-Id: <event id>` (receivers de-duplicate on it) and
`Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, verified
in constant time and refused when older than `TOLERANCE_S` (Stripe's scheme).

A subscription made with `batch` receives its due events together instead: one POST whose body
is a `WebhookBatch` (`{"events": [...]}`, up to `BATCH_MAX`, oldest first), signed the same
way, with the events' ids comma-separated in `Webhook-Id`. It is what a bank's camt.054
notification does with many entries, and one request instead of one per event. A receiver
processes the events in order and de-duplicates each on its own id.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from pydantic import BaseModel, Field

SIGNATURE_HEADER = "Webhook-Signature"
ID_HEADER = "Webhook-Id"
TOLERANCE_S = 300


class WebhookEvent(BaseModel):
    """What every webhook delivers; the signature covers these exact bytes."""

    id: str = Field(min_length=1, max_length=80, description=f"the event id, also in the {ID_HEADER} header")
    type: str = Field(min_length=1, max_length=80, description="e.g. account.credited, price.updated")
    created_at: str = Field(description="when the event was recorded (RFC 3339)")
    data: dict[str, Any]


#: Events in one batched delivery at most.
BATCH_MAX = 50


class WebhookBatch(BaseModel):
    """Several events in one delivery, oldest first (a subscription with `batch`)."""

    events: list[WebhookEvent] = Field(min_length=1, max_length=BATCH_MAX)


class SignatureRefused(ValueError):
    """Why a delivery's signature is not accepted: missing, malformed, stale or wrong."""

    def __init__(self, title: str, detail: str | None = None):
        super().__init__(title if detail is None else f"{title}: {detail}")
        self.title = title
        self.detail = detail


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `Webhook-Signature` header value for `body`."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def check_signature(
    secret: str, header: str | None, body: bytes, tolerance_s: int = TOLERANCE_S, now: float | None = None
) -> None:
    """Raise `SignatureRefused` unless `header` is a fresh, valid signature of `body`."""
    if not header:
        raise SignatureRefused("Missing webhook signature")
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
        given = parts["v1"]
    except (ValueError, KeyError) as e:
        raise SignatureRefused("Malformed webhook signature") from e
    now = time.time() if now is None else now
    if abs(now - t) > tolerance_s:
        raise SignatureRefused("Stale webhook signature", f"signed {int(now) - t} s ago")
    if not hmac.compare_digest(_mac(secret, t, body), given):
        raise SignatureRefused("Bad webhook signature")
