"""Load against a running devnet (DEVNET_ENV, default .devnet/env.json).

    locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 1m RemittanceUser
    LOAD_SHAPE=day LOAD_USERS=40 locust -f loadtests/locustfile.py --headless RemittanceUser

Users (pick on the command line; all run when none is named): RawTransferUser (1-unit KGST
transfers, needs only the chain), RemittanceUser (full mint -> remit -> redeem cycles through
bank, issuer and chain), MintOnlyUser, RedeemOnlyUser, ExchangeUser (deposits to and withdrawals
from the exchange). Each step of a flow is its own Locust
request ("bank credit", "mint included", "transfer included", "redeem included", "payout
settled") and the whole flow one more, so Locust's stats show where the time goes.

Shapes: LOAD_SHAPE=step|spike|day (see loadtests/shapes.py), else Locust's -u/-r/-t.
Environment: LOAD_WALLETS_PER_USER (2), LOAD_USERS_PER_PROCESS (64), LOAD_FUNDED_LANES (64; with
--processes N give N x LOAD_USERS_PER_PROCESS).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

# Locust imports this file by path: make `loadtests.*` importable from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devnet.core.http import use_transport
from loadtests.shapes import SHAPES
from loadtests.transport import GeventTransport
from loadtests.users import ExchangeUser, MintOnlyUser, RawTransferUser, RedeemOnlyUser, RemittanceUser

# Locust runs its users as greenlets: their HTTP goes through geventhttpclient (the engine of
# Locust's FastHttpUser) under the same httpx clients. Measured with 50 greenlets against a
# local JSON server: 0.80 ms of CPU per request with httpx's own transport, 0.26 ms with this.
use_transport(GeventTransport)
# Locust logs at INFO, where httpx writes a line per request: 7% of a Locust process's CPU.
logging.getLogger("httpx").setLevel(logging.WARNING)

__all__ = ["ExchangeUser", "MintOnlyUser", "RawTransferUser", "RedeemOnlyUser", "RemittanceUser"]

if os.environ.get("LOAD_SHAPE"):
    shape = os.environ["LOAD_SHAPE"]
    if shape not in SHAPES:
        raise SystemExit(f"LOAD_SHAPE={shape!r}: choose one of {sorted(SHAPES)}")

    class ChosenShape(SHAPES[shape]):  # type: ignore[misc,valid-type]
        pass
