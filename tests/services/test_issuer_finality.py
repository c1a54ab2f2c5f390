"""The reference issuer under reorgs: money moves only on final blocks.

The chain here seals blocks only for transactions and when a test mines (no follow-up blocks),
so a test can hold a block unfinalized and reorganise it: `finalized` = head - 2, as on BSC.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devnet.core.chain import TxResult
from devnet.core.rpc import RpcError
from devnet.core.wallets import Wallet
from devnet.profile import BscProfile, Engine
from devnet.services.bank.client import BankClient
from devnet.services.issuer.api import MintOut, MintStatus, RedemptionOut, RedemptionStatus
from devnet.services.issuer.client import IssuerClient
from harness.connect import Devnet
from harness.node_control import NodeControl
from harness.reconcile import reconcile
from tests.services.worldkit import World, customer_account, wait_until

# Blocks are sealed when a test mines them and reorgs are injected at chosen depths: geth.
pytestmark = [pytest.mark.xdist_group("issuer-finality-world"), pytest.mark.engines("geth")]

KGS = 10**16  # token base units per tyiyn (18 - 2 decimals)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_engine: Engine) -> Iterator[World]:
    yield from _world(tmp_path_factory, world_engine, "issuer-finality")


def _world(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine, name: str, **issuer: Any
) -> Iterator[World]:
    w = World.start(tmp_path_factory.mktemp(name), engine, profile=BscProfile(seal_until_final=False))
    w.start_service("bank")
    # No reports of its own accord: the chain moves only for the tests and their mints.
    w.start_issuer(report_interval_s=3600, redeem_interval_s=0.1, mint_interval_s=0.1, **issuer)
    yield w
    w.stop()


@pytest.fixture
def bank(world: World) -> BankClient:
    return BankClient(world.services["bank"].url)


@pytest.fixture
def issuer(world: World) -> IssuerClient:
    return IssuerClient(world.services["issuer"].url)


@pytest.fixture
def node(world: World) -> NodeControl:
    return NodeControl(world.chain.rpc, world.env.node.engine)


def _mining_until(node: NodeControl, probe: Any, what: str, timeout: float = 30.0) -> Any:
    """Mine one block per look until `probe` answers: finality needs blocks on this chain."""

    def step() -> Any:
        node.mine(1)
        return probe()

    return wait_until(step, timeout=timeout, what=what)


def _buy(bank: BankClient, wallet: Wallet, tyiyn: int) -> str:
    payer = customer_account(bank, funds=tyiyn)
    payment = bank.pay(
        payer,
        bank.reserve_accounts()["KGST"],
        tyiyn,
        "KGS",
        end_to_end_id=uuid.uuid4().hex[:20],
        remittance_info=f"KGST to {wallet.address}",
    )
    return payment.id


def _mint(issuer: IssuerClient, payment_id: str) -> MintOut:
    return issuer.mint_by_payment(payment_id)


def _minted(world: World, node: NodeControl, bank: BankClient, issuer: IssuerClient, tyiyn: int) -> Wallet:
    holder = world.wallet()
    payment = _buy(bank, holder, tyiyn)
    _mining_until(node, lambda: _mint(issuer, payment).status == MintStatus.MINTED, "mint final")
    return holder


def _redeem(
    world: World, node: NodeControl, bank: BankClient, issuer: IssuerClient, tyiyn: int
) -> tuple[Wallet, str, TxResult]:
    """A holder with `tyiyn` worth of final KGST redeems all of it to a new family account."""
    holder = _minted(world, node, bank, issuer, tyiyn)
    family = customer_account(bank, tier="T1")
    return holder, family, world.token("KGST").redeem(holder, tyiyn * KGS, family)


def _redemptions(issuer: IssuerClient, tx_hash: str) -> list[RedemptionOut]:
    return issuer.redemptions_by_tx(tx_hash)


def _reconciled(world: World, bank: BankClient, issuer: IssuerClient) -> None:
    world.env.services.update(bank=bank.base_url, issuer=issuer.base_url)
    devnet = Devnet(world.env)
    try:
        report = reconcile(devnet, settle_timeout=10)
    finally:
        devnet.close()
    assert report.ok, report.text()


def test_a_redemption_is_paid_only_once_its_block_is_final(
    world: World, node: NodeControl, bank: BankClient, issuer: IssuerClient
) -> None:
    _, family, result = _redeem(world, node, bank, issuer, 300_00)
    node.mine(1)  # one confirmation: safe, not final
    wait_until(lambda: node.finality().safe >= result.block_number, what="safe")
    assert _redemptions(issuer, result.tx_hash) == [] and bank.balance(family) == 0
    paid = _mining_until(
        node,
        lambda: _paid(issuer, result.tx_hash),
        "payout",
    )
    assert paid.block_number == result.block_number and bank.balance(family) == 300_00
    assert node.finality().finalized >= result.block_number


@pytest.mark.parametrize("depth", [1, 2])
def test_a_redemption_reorganised_away_before_finality_is_never_paid(
    world: World, node: NodeControl, bank: BankClient, issuer: IssuerClient, depth: int
) -> None:
    kgst = world.token("KGST")
    holder, family, result = _redeem(world, node, bank, issuer, 500_00)
    if depth == 2:
        node.mine(1)
    reorg = node.reorg(depth)  # the burn's block leaves the chain before it is final
    assert result.tx_hash in reorg.dropped
    holder.resync(world.chain.rpc)
    if world.chain.rpc.call("eth_getTransactionByHash", result.tx_hash) is None:
        # Not back in the pool: the holder spends its nonce on a no-op, as a wallet cancels a
        # transaction. Else geth's tracker of the transactions sent to it sends the burn again
        # when it next looks (about once a minute): seen in CI, where it landed during a later
        # test, whose reconciliation found it on chain and not final, so not paid yet.
        cancel = world.chain.sign(holder, holder.address, gas=21_000, nonce=world.chain.nonce(holder.address))
        with contextlib.suppress(RpcError):  # the burn came back meanwhile: it lands instead
            world.chain.submit(holder, cancel)
    final_after = node.mine(4)
    wait_until(lambda: node.finality().finalized >= final_after - 2, what="later blocks final")
    wait_until(lambda: _scanned_past(issuer, final_after - 2), what="issuer scanned the final blocks")
    if world.chain.rpc.call("eth_getTransactionReceipt", result.tx_hash) is not None:
        # geth, as any node may, returned the lost branch's burn to its pool and sealed it
        # again: a re-inclusion, which is paid exactly once, for its new block.
        paid = _mining_until(node, lambda: _paid(issuer, result.tx_hash), what="paid after re-inclusion")
        assert [r.status for r in _redemptions(issuer, result.tx_hash)] == [RedemptionStatus.PAID]
        assert paid.block_hash not in reorg.replaced and bank.balance(family) == 500_00
    else:
        # The issuer has scanned past the reorganised height and paid nothing for it.
        assert kgst.balance_of(holder) == 500_00 * KGS  # the holder has the tokens back
        assert _redemptions(issuer, result.tx_hash) == []
        assert bank.balance(family) == 0
    _reconciled(world, bank, issuer)


def _paid(issuer: IssuerClient, tx_hash: str) -> RedemptionOut | None:
    return next((r for r in _redemptions(issuer, tx_hash) if r.status == RedemptionStatus.PAID), None)


def _scanned_past(issuer: IssuerClient, height: int) -> bool:
    return issuer.info().scanned_block >= height


def test_a_redemption_reorganised_and_included_again_is_paid_once(
    world: World, node: NodeControl, bank: BankClient, issuer: IssuerClient
) -> None:
    _, family, result = _redeem(world, node, bank, issuer, 200_00)
    node.mine(1)
    reorg = node.reorg(2, keep="all")  # the same burn lands in another block
    assert reorg.included == [result.tx_hash]
    receipt = world.chain.rpc.call("eth_getTransactionReceipt", result.tx_hash)
    assert receipt["blockHash"] != result.receipt["blockHash"]
    paid = _mining_until(
        node,
        lambda: _paid(issuer, result.tx_hash),
        "payout",
    )
    assert paid.block_hash == receipt["blockHash"]
    node.mine(3)
    assert len(_redemptions(issuer, result.tx_hash)) == 1 and bank.balance(family) == 200_00
    _reconciled(world, bank, issuer)


def test_after_the_payout_a_reorg_cannot_undo_the_burn_and_nothing_is_paid_twice(
    world: World, node: NodeControl, bank: BankClient, issuer: IssuerClient
) -> None:
    kgst = world.token("KGST")
    holder, family, result = _redeem(world, node, bank, issuer, 100_00)
    _mining_until(node, lambda: bank.balance(family) == 100_00, "payout")
    head = node.head()
    with pytest.raises(RpcError, match="finalized block"):
        node.reorg(head - result.block_number + 1)  # the paid burn is final: fast finality refuses
    for depth in (1, 2):  # what a reorg may still replace: the blocks above it
        node.reorg(depth)
        node.mine(3)
    assert kgst.balance_of(holder) == 0
    assert [r.status for r in _redemptions(issuer, result.tx_hash)] == [RedemptionStatus.PAID]
    assert bank.balance(family) == 100_00
    _reconciled(world, bank, issuer)


@pytest.mark.parametrize("depth", [1, 2])
def test_a_mint_reorganised_away_is_sent_again_and_minted_exactly_once(
    world: World, node: NodeControl, bank: BankClient, issuer: IssuerClient, depth: int
) -> None:
    kgst = world.token("KGST")
    wallet = world.wallet()
    payment = _buy(bank, wallet, 700_00)
    included = wait_until(
        lambda: (m := _mint(issuer, payment)).status == MintStatus.INCLUDED and m, what="included"
    )
    receipt = world.chain.rpc.call("eth_getTransactionReceipt", included.tx_hash)
    assert receipt["status"] == "0x1", world.chain.revert_reason(included.tx_hash, receipt)
    assert kgst.balance_of(wallet) == 700_00 * KGS  # in a block, but not final: not `minted`
    if depth == 2:
        node.mine(1)
        included = wait_until(
            lambda: (m := _mint(issuer, payment)).status == MintStatus.INCLUDED and m, what="seen"
        )
    reorg = node.reorg(depth)
    # Its block is gone (the issuer may already have resent it into the new branch).
    assert included.block_hash in reorg.replaced
    # The issuer sees the mint leave the chain, sends the same transaction again, and books it
    # once its new block is final (or signs it anew if that transaction reverted: below).
    minted = _mining_until(
        node, lambda: (m := _mint(issuer, payment)).status == MintStatus.MINTED and m, "minted"
    )
    assert minted.block_hash != included.block_hash
    _same_mint_or_first_minted_nothing(world, included, minted)
    assert kgst.balance_of(wallet) == 700_00 * KGS
    _reconciled(world, bank, issuer)


def _same_mint_or_first_minted_nothing(world: World, included: MintOut, minted: MintOut) -> None:
    """A reorganised mint is final either as the same transaction, sent again, or, when that one
    could not mint, as a new one: then the first minted nothing.

    The reorg may also take the reserve report the mint relied on. The node returns both to its
    pool and, sealing on demand, may seal the mint alone before the report is back: it reverts
    (reserve too low), final, and the issuer signs the mint anew (seen in CI, both with the
    issuer running and restarted after the reorg).
    """
    if minted.tx_hash != included.tx_hash:
        first = world.chain.rpc.call("eth_getTransactionReceipt", included.tx_hash)
        if first is not None:  # it may also never have been sealed again
            assert first["status"] == "0x0", first
            reason = world.chain.revert_reason(included.tx_hash, first)
            assert reason == "SecureMint: supply would exceed reserve", reason


def test_a_mint_reorganised_away_while_the_issuer_is_down_is_minted_once_after_restart(
    world: World, node: NodeControl, bank: BankClient
) -> None:
    kgst = world.token("KGST")
    issuer = IssuerClient(world.services["issuer"].url)
    wallet = world.wallet()
    payment = _buy(bank, wallet, 900_00)
    included = wait_until(
        lambda: (m := _mint(issuer, payment)).status == MintStatus.INCLUDED and m, what="included"
    )
    old = world.services["issuer"]
    old.kill()
    node.reorg(1)  # while nobody watches
    node.mine(3)
    restarted = world.restart("issuer", kill=False)  # already dead: start it again
    issuer = IssuerClient(restarted.url)
    minted = _mining_until(
        node, lambda: (m := _mint(issuer, payment)).status == MintStatus.MINTED and m, "minted"
    )
    _same_mint_or_first_minted_nothing(world, included, minted)
    assert kgst.balance_of(wallet) == 900_00 * KGS
    _reconciled(world, bank, issuer)


# ---- finality by confirmations: a reorg deeper than the confirmations is followed by parent hash


@pytest.fixture(scope="module")
def shallow(tmp_path_factory: pytest.TempPathFactory, world_engine: Engine) -> Iterator[World]:
    """An issuer told that one confirmation is final, on a chain that can still reorganise it:
    what a node without finality and a too-small N would give."""
    yield from _world(tmp_path_factory, world_engine, "shallow-finality", confirmations=1)


@pytest.mark.parametrize("keep", ["none", "all"])
def test_a_reorg_below_the_confirmations_voids_an_unpaid_redemption_and_a_re_inclusion_pays_once(
    shallow: World, keep: str
) -> None:
    world = shallow
    bank, issuer = BankClient(world.services["bank"].url), IssuerClient(world.services["issuer"].url)
    node = NodeControl(world.chain.rpc, "geth")
    kgst = world.token("KGST")
    holder = _minted(world, node, bank, issuer, 400_00)
    family = customer_account(bank, tier="T1")
    bank.set_faults(error_rate_bps=10_000)  # the bank is down: the payout waits
    try:
        result = kgst.redeem(holder, 400_00 * KGS, family)
        seen = wait_until(lambda: _redemptions(issuer, result.tx_hash), what="recorded at one confirmation")
        assert seen[0].status == RedemptionStatus.PENDING
        reorg = node.reorg(1, keep="all" if keep == "all" else "none")
        if keep == "none":
            # The scanner finds that the block it took as final is gone: the redemption is void.
            voided = wait_until(
                lambda: (
                    (r := _redemptions(issuer, result.tx_hash))
                    and r[0].status == RedemptionStatus.REORGED
                    and r
                ),
                what="voided",
            )
            assert "reorganised away" in voided[0].reason
        else:
            # Found again in the new block: payable again, once.
            wait_until(
                lambda: (
                    (r := _redemptions(issuer, result.tx_hash))
                    and (r[0].status, r[0].block_hash) == (RedemptionStatus.PENDING, reorg.blocks[-1])
                ),
                what="found again in the new block",
            )
    finally:
        bank.clear_faults()
    node.mine(3)
    # geth, as any node, may put the transactions of removed blocks back in its pool, after the
    # new branch was sealed (seen in CI): then the burn is simply included again, later.
    back = keep == "all" or world.chain.rpc.call("eth_getTransactionByHash", result.tx_hash) is not None
    if not back:
        holder.resync(world.chain.rpc)
        wait_until(lambda: _scanned_past(issuer, node.head()), what="scanned on")
        assert [r.status for r in _redemptions(issuer, result.tx_hash)] == [RedemptionStatus.REORGED]
        assert bank.balance(family) == 0 and kgst.balance_of(holder) == 400_00 * KGS
    else:  # paid once, for the block it is in now
        paid = _mining_until(
            node,
            lambda: (
                (r := _redemptions(issuer, result.tx_hash)) and r[0].status == RedemptionStatus.PAID and r[0]
            ),
            what="paid after re-inclusion",
        )
        receipt = world.chain.rpc.call("eth_getTransactionReceipt", result.tx_hash)
        assert paid.block_hash == receipt["blockHash"] != result.receipt["blockHash"]
        assert bank.balance(family) == 400_00 and kgst.balance_of(holder) == 0
    _reconciled(world, bank, issuer)
