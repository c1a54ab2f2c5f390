"""The issuer's reserve reports never go backwards in time: a report read from an older bank
balance is never sent after one read from a newer balance (a mint covered by the newer one
would revert behind the older). Found under load by the knee sweep: mints of a batch reverted
when the periodic report, built from the balance before the batch's credits, landed after the
mint worker's own report."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from devnet.core.accounts import RoleKeys
from devnet.core.chain import Chain
from devnet.core.deploy import Deployment
from devnet.core.env import DevnetEnv
from devnet.core.wallets import Wallet
from devnet.services.common.db import Database
from devnet.services.issuer.core import Issuer


class SlowBank:
    """A bank whose balance answer is read when asked, and returned only when the test says."""

    def __init__(self) -> None:
        self.value = 0
        self.calls = 0
        self.release: list[threading.Event] = []

    def balance(self, _account: str) -> int:
        value, self.calls = self.value, self.calls + 1
        gate = threading.Event()
        self.release.append(gate)
        gate.wait(30)
        return value

    def reserve_accounts(self) -> dict[str, str]:
        return {"KGST": "1030000000000001", "USDKG": "1030000000000002"}


def _wait(predicate: Any, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_a_report_from_an_older_balance_never_lands_after_a_newer_one(
    devnet_env: DevnetEnv, chain: Chain, suite: Deployment, lane_roles: RoleKeys, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'issuer.sqlite'}")
    db.create_all()
    bank = SlowBank()
    env = devnet_env.model_copy(update={"deployment": suite})
    issuer = Issuer(
        db,
        env,
        bank=bank,  # type: ignore[arg-type]
        custodian=None,
        minter_count=1,
        gas_per_mint=250_000,
        mint_batch=10,
        confirmations=None,
        custodian_signer=None,
        issuer_name="test",
    )
    issuer.reporter = Wallet.of(lane_roles.reporter)  # the private suite's reporter
    try:
        # The periodic reporter reads the balance before a credit...
        bank.value = 100_00
        periodic = threading.Thread(target=lambda: issuer.report_bank_reserve(force=True))
        periodic.start()
        assert _wait(lambda: bank.calls == 1)
        # ...the credit arrives, and the mint worker reports the new balance to cover its mint.
        bank.value = 250_00
        covering = threading.Thread(target=lambda: issuer.report_bank_reserve(force=True, wait=False))
        covering.start()
        _wait(lambda: bank.calls == 2, 2)  # it reads at once unless a report is under way
        for gate in list(bank.release):
            gate.set()
        _wait(lambda: bank.calls == 2)
        for gate in bank.release:
            gate.set()
        periodic.join(30)
        covering.join(30)
        assert not periodic.is_alive() and not covering.is_alive()
        assert _wait(lambda: chain.rpc.call("eth_getTransactionReceipt", issuer._last_report) is not None, 30)
        kgst = issuer.tokens["KGST"]
        _, answer, _, _, _ = kgst.feeds["reserve"].functions.latestRoundData().call()
        assert answer == 250_00, "the last report on chain is the older balance"
    finally:
        issuer.close()
        db.dispose()
