"""The demo: one KGST remittance cycle through bank, issuer and chain, with new customers."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from devnet.core.env import DevnetEnv
from devnet.core.money import format_minor
from devnet.services.bank.api import Currency, KycTier
from harness.connect import Devnet
from harness.flows import Trace, kgst_remittance_cycle

#: USD 200 at ~87.4 KGS/USD, in tyiyn: a typical transfer home.
REMITTANCE_TYIYN = 17_480_00


def run_demo(env: DevnetEnv, progress: Callable[[str], None] = lambda _m: None) -> Trace:
    devnet = Devnet(env)
    try:
        bank = devnet.bank
        suffix = uuid.uuid4().hex[:4]
        migrant = bank.create_customer(f"Aibek Sadyrov {suffix}", KycTier.T2, country="KG")
        family = bank.create_customer(f"Gulnara Sadyrova {suffix}", KycTier.T1, country="KG")
        migrant_account = bank.open_account(migrant.id, Currency.KGS).number
        family_account = bank.open_account(family.id, Currency.KGS).number
        bank.deposit(migrant_account, REMITTANCE_TYIYN, Currency.KGS)
        funds = format_minor(REMITTANCE_TYIYN)
        progress(f"customers: migrant {migrant_account} (T2) with {funds} KGS, family {family_account} (T1)")
        # The last free accounts: out of the way of test lanes counted from the front.
        wallets = devnet.accounts(env.free_accounts[1] - env.free_accounts[0] - 2, 2)
        return kgst_remittance_cycle(
            devnet,
            migrant_account=migrant_account,
            migrant=wallets[0],
            family=wallets[1],
            family_account=family_account,
            tyiyn=REMITTANCE_TYIYN,
        )
    finally:
        devnet.close()
