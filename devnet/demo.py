"""The on-chain remittance cycle, step by step: reserve attested -> KGST minted to a migrant
worker's wallet -> sent home to the family's wallet -> redeemed to the family's bank account.

Until the bank and issuer services run (they come with the services), the demo plays the
issuer's keys itself: the reporter attests the reserve and a minter key mints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.accounts import ROLE_LAYOUT, derive_account
from harness.chain import Chain, TxResult
from harness.env import DevnetEnv
from harness.tokens import StableCoinClient
from harness.wallets import Wallet

#: USD 200 at ~87.4 KGS/USD, in tyiyn.
REMITTANCE_TYIYN = 17_480_00
FAMILY_ACCOUNT = "1030120000000011"


@dataclass
class Step:
    name: str
    seconds: float
    tx_hash: str
    block: int
    detail: str


def run_demo(env: DevnetEnv, on_step: Callable[[Step], None] = lambda _s: None) -> list[Step]:
    chain = Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
    kgst = StableCoinClient(chain, env.deployment.token("KGST"))
    reporter = Wallet.of(derive_account(env.mnemonic, ROLE_LAYOUT.reporter))
    minter = Wallet.of(derive_account(env.mnemonic, ROLE_LAYOUT.first_minter))
    # The last two free accounts: out of the way of test lanes counted from the front.
    last = env.free_accounts[1]
    migrant = Wallet.of(derive_account(env.mnemonic, last - 2))
    family = Wallet.of(derive_account(env.mnemonic, last - 1))
    amount = REMITTANCE_TYIYN * 10 ** (kgst.info.decimals - 2)
    steps: list[Step] = []

    def step(name: str, action: Callable[[], TxResult], detail: Callable[[], str]) -> None:
        started = time.perf_counter()
        result = action()
        s = Step(name, time.perf_counter() - started, result.tx_hash, result.block_number, detail())
        steps.append(s)
        on_step(s)

    supply_tyiyn = kgst.total_supply() // 10 ** (kgst.info.decimals - 2)
    step(
        "reserve attested",
        lambda: kgst.report_reserve(reporter, supply_tyiyn + REMITTANCE_TYIYN),
        lambda: f"bank reserve {(supply_tyiyn + REMITTANCE_TYIYN) / 100:,.2f} KGS",
    )
    step(
        "KGST minted",
        lambda: kgst.mint(minter, migrant, amount),
        lambda: f"17,480.00 KGST to migrant {migrant.address}",
    )
    step(
        "remitted home", lambda: kgst.transfer(migrant, family, amount), lambda: f"to family {family.address}"
    )
    redeemed: list[TxResult] = []

    def redeem() -> TxResult:
        redeemed.append(kgst.redeem(family, amount, FAMILY_ACCOUNT))
        return redeemed[0]

    step(
        "redeemed",
        redeem,
        lambda: f"redemption #{kgst.events(redeemed[0], 'Redeemed')[0]['redemptionId']} to {FAMILY_ACCOUNT}",
    )
    chain.close()
    return steps
