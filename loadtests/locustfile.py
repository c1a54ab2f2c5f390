"""Raw BEP-20 transfer load against a running devnet.

Each Locust user sends KGST transfers from its own lane of wallets (never shared with another
user or process) and reports one request per transfer, "transfer included": submit ->
receipt. Funding happens once, on the master (or the only process), at test start.

    DEVNET_ENV=.devnet/env.json locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 1m

Environment: DEVNET_ENV (env file, default .devnet/env.json), LOAD_WALLETS_PER_USER (2),
LOAD_USERS_PER_PROCESS (64: lane capacity of each worker process), LOAD_FUNDED_LANES (64: lanes
funded at test start; with --processes N give N x LOAD_USERS_PER_PROCESS).
"""

from __future__ import annotations

import itertools
import os
import time
from functools import cache
from pathlib import Path
from typing import Any

from gevent import GreenletExit
from locust import User, constant, events, task
from locust.runners import WorkerRunner

from harness.accounts import ROLE_LAYOUT, derive_account, derive_accounts
from harness.chain import Chain
from harness.env import DevnetEnv
from harness.flood import fund_senders
from harness.tokens import StableCoinClient
from harness.wallets import Wallet, WalletPool

WALLETS_PER_USER = int(os.environ.get("LOAD_WALLETS_PER_USER", "2"))
USERS_PER_PROCESS = int(os.environ.get("LOAD_USERS_PER_PROCESS", "64"))
FUNDED_LANES = int(os.environ.get("LOAD_FUNDED_LANES", "64"))
FUNDING_WHOLE_TOKENS = 1_000_000


@cache
def devnet() -> tuple[DevnetEnv, Chain, StableCoinClient, WalletPool]:
    """One chain client per process: one receipt poller serves every user."""
    env = DevnetEnv.load(Path(os.environ.get("DEVNET_ENV", ".devnet/env.json")))
    chain = Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
    kgst = StableCoinClient(chain, env.deployment.token("KGST"))
    first, last = env.free_accounts
    return env, chain, kgst, WalletPool(derive_accounts(env.mnemonic, first, last - first))


@events.test_start.add_listener
def fund_load_accounts(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master funds once for everyone
    env, _, kgst, pool = devnet()
    reporter = Wallet.of(derive_account(env.mnemonic, ROLE_LAYOUT.reporter))
    minter = Wallet.of(derive_account(env.mnemonic, ROLE_LAYOUT.first_minter))
    funded = WalletPool(pool.wallets[: FUNDED_LANES * WALLETS_PER_USER])
    fund_senders(kgst, reporter, minter, funded, kgst.units(FUNDING_WHOLE_TOKENS))


_user_numbers = itertools.count()


class RawTransferUser(User):
    """Sends 1-unit KGST transfers to the next wallet of its own lane, back to back."""

    wait_time = constant(0)

    def on_start(self) -> None:
        _, self.chain, self.kgst, pool = devnet()
        worker = getattr(self.environment.runner, "worker_index", 0)
        lane_index = worker * USERS_PER_PROCESS + next(_user_numbers)
        lanes = len(pool) // WALLETS_PER_USER
        if lane_index >= min(lanes, FUNDED_LANES):
            raise RuntimeError(
                f"no funded lane for user #{lane_index}: raise LOAD_FUNDED_LANES (now {FUNDED_LANES})"
            )
        self.wallets = pool.lane(lane_index, lanes)
        self.calldata = [
            self.chain.encode_call(
                self.kgst.contract, "transfer", self.wallets[(i + 1) % len(self.wallets)].address, 1
            )
            for i in range(len(self.wallets))
        ]
        self.turn = itertools.cycle(range(len(self.wallets)))

    @task
    def transfer(self) -> None:
        i = next(self.turn)
        started = time.perf_counter()
        # Signed first, so the hash is known even if the user is stopped during submission.
        signed = self.chain.sign(self.wallets[i], self.kgst.address, self.calldata[i], gas=60_000)
        try:
            self.chain.submit(self.wallets[i], signed)
            self.chain.wait(signed.hash_hex)
        except GreenletExit:
            # Locust kills users at the end of a run even mid-task: a transfer the node accepted
            # is still waited for and reported, so the run's numbers match the chain.
            if self.chain.known(signed.hash_hex):
                self._report(started, self._settle(signed.hash_hex))
            raise
        except Exception as e:  # reported to Locust as a failure, not raised
            self._report(started, e)
            return
        self._report(started, None)

    def _settle(self, tx_hash: str) -> Exception | None:
        try:
            self.chain.wait(tx_hash, timeout=30)
        except Exception as e:
            return e
        return None

    def _report(self, started: float, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="BEP-20",
            name="transfer included",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )
