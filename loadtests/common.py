"""What every Locust user shares in one process: the devnet handle (one chain client, so one
receipt poller) and disjoint lanes of accounts per user."""

from __future__ import annotations

import itertools
import os
import time
from functools import cache
from pathlib import Path
from typing import Any

from devnet.core.wallets import WalletPool
from harness.connect import Devnet
from harness.flows import Trace

WALLETS_PER_USER = int(os.environ.get("LOAD_WALLETS_PER_USER", "2"))
#: Lane capacity of each worker process: user n of worker w takes lane w x this + n.
USERS_PER_PROCESS = int(os.environ.get("LOAD_USERS_PER_PROCESS", "64"))
#: Lanes funded with KGST at test start for raw-transfer users (with --processes N: N x users).
FUNDED_LANES = int(os.environ.get("LOAD_FUNDED_LANES", "64"))


class Wages:
    """What a flow user has paid in at the bank and not yet spent. A deposit before every flow
    would be load-generator work counted as the system's (a bank write and its round trip each
    cycle); wages come in at once instead, `flows` flows' worth, when what is left runs short.
    A flow spends its amount whether or not it got as far as paying: the account holds at least
    what is counted here."""

    def __init__(self, flows: int = 50):
        self.flows = flows
        self.left = 0

    def spend(self, minor: int) -> int:
        """Spend `minor` on the next flow; answers what to pay in first (0: nothing)."""
        due = 0
        if self.left < minor:
            due = self.flows * minor
            self.left += due
        self.left -= minor
        return due


@cache
def devnet() -> Devnet:
    return Devnet.attach(Path(os.environ.get("DEVNET_ENV", ".devnet/env.json")))


def lanes_of(env_free: tuple[int, int]) -> int:
    """How many lanes of WALLETS_PER_USER accounts the devnet's free accounts make."""
    return (env_free[1] - env_free[0]) // WALLETS_PER_USER


_user_numbers = itertools.count()


def lane_wallets(index: int) -> WalletPool:
    """Lane `index`'s wallets: free accounts index x WALLETS_PER_USER onwards. Derived per lane
    (0.4 ms an account), not the whole range: a devnet prefunded for a sweep's thousands of
    users would cost each Locust process seconds of CPU before its first flow."""
    lanes = lanes_of(devnet().env.free_accounts)
    if not 0 <= index < lanes:
        raise RuntimeError(f"lane {index}: the devnet has only {lanes} lanes of {WALLETS_PER_USER} accounts")
    return devnet().accounts(index * WALLETS_PER_USER, WALLETS_PER_USER)


def lane_number(environment: Any, from_end: bool = False) -> int:
    """This user's lane. Raw-transfer users count lanes from the front (where the funded ones
    are); flow users from the back, so both can run in one test (`lanes.flow_lanes` knows)."""
    worker = getattr(environment.runner, "worker_index", 0)
    index = worker * USERS_PER_PROCESS + next(_user_numbers)
    lanes = lanes_of(devnet().env.free_accounts)
    if index >= lanes:
        raise RuntimeError(f"user #{index}: the devnet has only {lanes} lanes of {WALLETS_PER_USER} accounts")
    return lanes - 1 - index if from_end else index


def lane(environment: Any, from_end: bool = False) -> WalletPool:
    """This user's own wallets (see `lane_number`)."""
    return lane_wallets(lane_number(environment, from_end))


def report(
    environment: Any, request_type: str, name: str, seconds: float, error: Exception | None = None
) -> None:
    environment.events.request.fire(
        request_type=request_type,
        name=name,
        response_time=seconds * 1000,
        response_length=0,
        exception=error,
        context={},
    )


def report_trace(environment: Any, trace: Trace, error: Exception | None, started: float) -> None:
    """One Locust request per step of the flow, and one for the whole flow."""
    for step in trace.steps:
        failed = error if (error is not None and step is trace.steps[-1]) else None
        report(environment, "step", step.name, step.seconds, failed)
    report(environment, "flow", trace.flow, time.perf_counter() - started, error)
