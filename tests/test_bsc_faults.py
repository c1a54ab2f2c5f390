"""Finality faults on real Parlia (`devnet fault`): a whole world (node, contracts, bank,
custodian, issuer, exchange) on bsc with three validators. Votes stop and finality stalls while
blocks go on; a validator goes down and comes back; a partition and its heal reorganise the
devnet's JSON-RPC node. Through each, the issuer pays only for final blocks, exactly once, the
exchange credits a deposit once, and the world reconciles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from devnet.cli import app
from devnet.components import SERVICE_NAMES
from devnet.core.chain import TxResult
from devnet.core.rpc import Rpc
from devnet.core.wait import wait_until
from devnet.core.wallets import Wallet
from devnet.node.bsc.faults import BscCluster, FaultError
from devnet.node.bsc.keys import validator_account
from devnet.profile import BscProfile
from devnet.services.issuer.api import MintStatus, RedemptionStatus
from devnet.world import down, up
from harness.connect import Devnet
from harness.flows import Trace, mint_kgst, settled_payout
from harness.reconcile import reconcile

pytestmark = pytest.mark.xdist_group("bsc-engine")

VALIDATORS = 3
PROFILE = BscProfile(bsc_validators=VALIDATORS)
TYIYN = 1_000_00


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = Path(tmp_path_factory.mktemp("bsc-faults")) / "devnet"
    up(root, engine="bsc", profile=PROFILE, services=dict.fromkeys(SERVICE_NAMES))
    try:
        yield root
    finally:
        down(root)


@pytest.fixture(scope="module")
def devnet(state_dir: Path) -> Iterator[Devnet]:
    handle = Devnet.attach(state_dir / "env.json")
    yield handle
    handle.close()


@pytest.fixture(scope="module")
def cluster(devnet: Devnet) -> BscCluster:
    assert devnet.env.node.datadir
    return BscCluster(Path(devnet.env.node.datadir))


@pytest.fixture
def healthy(cluster: BscCluster) -> Iterator[BscCluster]:
    """The cluster, back to all validators up, voting and peered after the test."""
    yield cluster
    cluster.heal()
    cluster.validator_up()
    cluster.votes_on()


_wallets = iter(range(40))


def _wallet(devnet: Devnet) -> Wallet:
    return next(iter(devnet.accounts(next(_wallets), 1)))


def _account(devnet: Devnet, tier: str = "T2", funds: int = 0) -> str:
    bank = devnet.bank
    number = bank.open_account(
        bank.create_customer(f"Customer {uuid.uuid4().hex[:6]}", tier).id, "KGS"
    ).number
    if funds:
        bank.deposit(number, funds, "KGS")
    return number


def _minted(devnet: Devnet) -> Wallet:
    """A holder of TYIYN worth of KGST, its mint final."""
    holder = _wallet(devnet)
    mint_kgst(devnet, _account(devnet, funds=TYIYN), holder, TYIYN, Trace("mint"), timeout=120)
    return holder


def _block(devnet: Devnet, tag: int | str) -> dict[str, Any]:
    number = hex(tag) if isinstance(tag, int) else tag
    block: dict[str, Any] = devnet.chain.rpc.call("eth_getBlockByNumber", number, False)
    return block


def _number(devnet: Devnet, tag: str) -> int:
    return int(_block(devnet, tag)["number"], 16)


def _blocks_pass(devnet: Devnet, count: int, timeout: float = 60) -> int:
    target = _number(devnet, "latest") + count
    return wait_until(lambda: (n := _number(devnet, "latest")) >= target and n, timeout, f"block {target}")


def _finality_follows(devnet: Devnet, timeout: float = 90) -> None:
    head = _number(devnet, "latest")
    wait_until(lambda: _number(devnet, "finalized") >= head, timeout, f"block {head} final")


def _miner_index(block: dict[str, Any]) -> int:
    ours = [validator_account(PROFILE, i).address.lower() for i in range(VALIDATORS)]
    return ours.index(block["miner"].lower())


def _reconciled(devnet: Devnet) -> None:
    report = reconcile(devnet, settle_timeout=60)
    assert report.ok, report.text()


def test_faults_need_several_validators_and_name_what_is_wrong(cluster: BscCluster, state_dir: Path) -> None:
    with pytest.raises(FaultError, match="validator 0 serves the devnet's JSON-RPC"):
        cluster.validator_down(0)
    with pytest.raises(FaultError, match="no validator 7"):
        cluster.votes_off([7])
    with pytest.raises(FaultError, match="both sides"):
        cluster.partition([0, 1, 2])
    result = CliRunner().invoke(app, ["fault", "validator-down", "5", "--state-dir", str(state_dir)])
    assert result.exit_code == 1 and "no validator 5" in result.output


def test_votes_off_stalls_finality_while_blocks_go_on_and_money_waits_for_it(
    devnet: Devnet, healthy: BscCluster, state_dir: Path
) -> None:
    holder = _minted(devnet)
    family = _account(devnet, tier="T1")
    _finality_follows(devnet)
    result = CliRunner().invoke(app, ["fault", "votes-off", "--state-dir", str(state_dir)])
    assert result.exit_code == 0, result.output
    assert "1 of 3 validators vote, quorum 2: finality stalls" in " ".join(result.output.split())
    assert healthy.status().voters() == [0]
    stalled = _number(devnet, "finalized")
    # Blocks go on; the finalized block does not (a block justified as the votes stopped may
    # still finalize its parent: give it a few blocks first).
    _blocks_pass(devnet, 5)
    stalled = _number(devnet, "finalized")
    burn: TxResult = devnet.kgst.redeem(holder, devnet.kgst.info.from_minor(TYIYN), family)
    head = _blocks_pass(devnet, 20)
    assert _number(devnet, "finalized") == stalled < burn.block_number < head
    # The burn is 20 blocks deep but not final: the issuer has not paid it.
    assert devnet.issuer.redemptions_by_tx(burn.tx_hash) == [] and devnet.bank.balance(family) == 0
    # A mint the bank paid for meanwhile lands on chain but is not booked until final.
    late = _wallet(devnet)
    trace = Trace("mint while finality stalls")
    mint_kgst(devnet, _account(devnet, funds=TYIYN), late, TYIYN, trace, timeout=60, final=False)
    payment = trace.step("bank credit").bank_ref
    assert payment and devnet.issuer.mint_by_payment(payment).status != MintStatus.MINTED

    healthy.votes_on()
    _finality_follows(devnet)
    paid = settled_payout(devnet, burn.tx_hash, timeout=60)
    assert paid.status == RedemptionStatus.PAID and paid.block_hash == burn.receipt["blockHash"]
    assert devnet.bank.balance(family) == TYIYN
    assert len(devnet.issuer.redemptions_by_tx(burn.tx_hash)) == 1
    wait_until(lambda: devnet.issuer.mint_by_payment(payment).status == MintStatus.MINTED, 60, "mint booked")
    _reconciled(devnet)


def test_a_validator_down_leaves_blocks_and_finality_going_and_comes_back(
    devnet: Devnet, healthy: BscCluster
) -> None:
    status = healthy.validator_down(2)
    assert [v.running for v in status.validators] == [True, True, False]
    assert status.voters() == [0, 1]  # two of three: still the quorum
    first = _number(devnet, "latest") + 1
    _finality_follows(devnet)
    last = _blocks_pass(devnet, 10)
    _finality_follows(devnet)
    assert {_miner_index(_block(devnet, n)) for n in range(first, last + 1)} == {0, 1}
    status = healthy.validator_up(2)
    assert all(v.running and v.voting for v in status.validators)
    back = _number(devnet, "latest")
    wait_until(
        lambda: any(_miner_index(_block(devnet, n)) == 2 for n in range(back, _number(devnet, "latest") + 1)),
        60,
        "a block sealed by validator 2 again",
    )
    _finality_follows(devnet)


def _minority_block(devnet: Devnet, cluster: BscCluster) -> bool:
    """Validator 0, cut off, has sealed a block of its own the others do not have."""
    head = _block(devnet, "latest")
    if _miner_index(head) != 0:
        return False
    others = cluster.status().validators[1].url
    theirs = Rpc(others).call("eth_getBlockByNumber", head["number"], False)
    return theirs is None or theirs["hash"] != head["hash"]


def test_a_partition_and_its_heal_reorganise_the_devnets_node_and_money_stays_right(
    devnet: Devnet, healthy: BscCluster, state_dir: Path
) -> None:
    """Validator 0 (the devnet's JSON-RPC) alone against the other two: it seals one block of
    its own at most (Parlia's recent-signer rule), which the others' longer, finalized chain
    replaces when they heal. A burn and an exchange deposit sent to it meanwhile land in that
    block, go back to its pool and are sealed again: paid once, credited once."""
    holder, depositor = _minted(devnet), _minted(devnet)
    family = _account(devnet, tier="T1")
    user = devnet.exchange.create_user("deposit across a partition")
    address = devnet.exchange.deposit_address(user, "KGST")
    amount = devnet.kgst.info.from_minor(TYIYN)
    _finality_follows(devnet)
    with ThreadPoolExecutor(2) as pool:
        for _attempt in range(5):
            # Validator 0 may seal the next block alone if it did not seal the head.
            wait_until(lambda: _miner_index(_block(devnet, "latest")) != 0, 10, "a block not sealed by 0")
            healthy.partition([0])
            if _miner_index(_block(devnet, "latest")) != 0:
                break
            healthy.heal()  # it sealed the head in the meantime: try again
        else:
            pytest.fail("validator 0 sealed the head at each of five partitions")
        burn = pool.submit(devnet.kgst.redeem, holder, amount, family)
        deposit = pool.submit(devnet.kgst.transfer, depositor, address, amount)
        wait_until(lambda: _minority_block(devnet, healthy), 30, "a block validator 0 sealed alone")
        assert {v.index: v.peers for v in healthy.status().validators} == {0: [], 1: [2], 2: [1]}
        alone = _block(devnet, "latest")
        _blocks_pass_on(healthy, 1, int(alone["number"], 16) + 5)  # the majority goes on
        assert _block(devnet, "latest")["hash"] == alone["hash"]  # validator 0 is stuck alone
        result = CliRunner().invoke(app, ["fault", "heal", "--state-dir", str(state_dir)])
        assert result.exit_code == 0, result.output
        assert f"{int(alone['number'], 16)}: {alone['hash']} ->" in " ".join(result.output.split())
        burned, deposited = burn.result(timeout=120), deposit.result(timeout=120)
    # What the partition's block held is on the healed chain, in other blocks: validator 0 put it
    # back in its pool, and the next validators to seal include it (not at once: seen here).
    for sent in (burned, deposited):
        receipt = wait_until(
            lambda sent=sent: devnet.chain.rpc.call("eth_getTransactionReceipt", sent.tx_hash),
            60,
            f"{sent.tx_hash} sealed again",
        )
        assert (
            receipt is not None
            and receipt["blockHash"] == _block(devnet, int(receipt["blockNumber"], 16))["hash"]
        )
    _finality_follows(devnet)
    paid = settled_payout(devnet, burned.tx_hash, timeout=60)
    assert paid.status == RedemptionStatus.PAID
    assert paid.block_hash == devnet.chain.rpc.call("eth_getTransactionReceipt", burned.tx_hash)["blockHash"]
    assert devnet.bank.balance(family) == TYIYN and len(devnet.issuer.redemptions_by_tx(burned.tx_hash)) == 1
    wait_until(
        lambda: (
            devnet.exchange.balance(user, "KGST").available + devnet.exchange.balance(user, "KGST").locked
            == amount
        ),
        90,
        "deposit credited",
    )
    _blocks_pass(devnet, 20)
    balance = devnet.exchange.balance(user, "KGST")
    assert balance.available + balance.locked == amount  # once, not twice
    _reconciled(devnet)


def _blocks_pass_on(cluster: BscCluster, validator: int, target: int, timeout: float = 60) -> None:
    rpc = Rpc(cluster.status().validators[validator].url)
    wait_until(
        lambda: int(rpc.call("eth_blockNumber"), 16) >= target, timeout, f"validator {validator} at {target}"
    )
