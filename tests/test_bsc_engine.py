"""The bsc engine: the real BSC client (bnb-chain/bsc) as the validator of a chain of its own.
What users rely on: 450 ms blocks, fast finality by the validator's own votes, Parlia's RPC,
transfers and contracts from everyday clients, system transactions, and a chain that resumes.

One node for the module (on one xdist worker), stopped and resumed by the last test. Needs
.tools/bin/bsc (`devnet tools install`); without it the node's start fails with how to get it.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware

from devnet.core.accounts import derive_account
from devnet.core.blocks import is_system_transaction, user_load
from devnet.core.chain import Chain
from devnet.core.wallets import Wallet
from devnet.node import NodeHandle, start_node
from devnet.node.bsc.genesis import VALIDATOR_CONTRACT
from devnet.node.bsc.keys import operator_account, validator_account
from devnet.node.bsc.stakehub import operator_of
from devnet.profile import BscProfile
from devnet.world import down, up
from harness.node_control import NodeControl, ReorgNotOnDemand

pytestmark = pytest.mark.xdist_group("bsc-engine")

#: BSC's block interval since Fermi (2026-01-14), in milliseconds.
FERMI_INTERVAL_MS = 450
#: bsc's vote manager starts voting 40 blocks after mining starts (core/vote: blocksNumberSinceMining).
FIRST_VOTE_BLOCKS = 40
#: BSCValidatorSet.deposit(address): the system transaction paying a block's fees to its validator.
DEPOSIT_SELECTOR = "0xf340fa01"
PROFILE = BscProfile(prefunded_accounts=30)


@dataclass
class BscNode:
    workdir: Path
    handle: NodeHandle
    chain: Chain

    @property
    def rpc(self) -> Any:
        return self.chain.rpc

    def block(self, tag: int | str, full: bool = False) -> dict[str, Any]:
        return self.chain.get_block(tag, full)

    def wait_for_block(self, number: int, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (block := self.rpc.call("eth_getBlockByNumber", hex(number), False)) is None:
            assert time.monotonic() < deadline, f"no block {number} after {timeout} s"
            time.sleep(0.1)
        result: dict[str, Any] = block
        return result

    def finalized(self) -> int:
        return int(self.block("finalized")["number"], 16)

    def wait_for_finality(self, timeout: float = 90) -> int:
        """The finalized number once votes have begun (bsc votes from its 41st block on)."""
        deadline = time.monotonic() + timeout
        while (finalized := self.finalized()) == 0:
            assert time.monotonic() < deadline, f"nothing finalized after {timeout} s"
            time.sleep(0.2)
        return finalized

    def stop(self) -> None:
        self.chain.close()
        self.handle.stop()


def _start(workdir: Path) -> BscNode:
    handle = start_node("bsc", PROFILE, workdir)
    chain = Chain(handle.rpc_url, gas_price=PROFILE.min_gas_price_wei, chain_id=PROFILE.chain_id)
    return BscNode(workdir, handle, chain)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BscNode]:
    bsc = _start(tmp_path_factory.mktemp("bsc"))
    yield bsc
    bsc.stop()


def sender(index: int) -> Wallet:
    return Wallet.of(derive_account(PROFILE.mnemonic, index))


def test_ready_means_block_1_is_sealed(node: BscNode) -> None:
    assert int(node.rpc.call("eth_chainId"), 16) == 714
    assert node.block(1) is not None
    # Block 1 holds the system transactions that initialise the system contracts.
    assert len(node.block(1)["transactions"]) > 0


def test_a_bsc_devnet_is_ready_once_its_blocks_become_final(tmp_path: Path) -> None:
    """`up` on bsc (a devnet of its own) returns once fast finality runs: bsc votes only from 40
    blocks after it starts sealing, and a devnet that answered `finalized` = 0 would hold every
    payout and credit of its first 18 s. A block period, which bsc would ignore, is refused
    before anything starts."""
    with pytest.raises(ValueError, match="bsc seals a block every 450 ms"):
        up(tmp_path / "timed", "bsc", BscProfile(block_period_s=1))
    assert not (tmp_path / "timed" / "node").exists()
    env = up(tmp_path / "devnet", "bsc", PROFILE)
    try:
        chain = Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
        finalized = int(chain.get_block("finalized")["number"], 16)
        head = chain.block_number()
        chain.close()
        assert finalized > 0 and head - finalized <= 3 + 2  # two more blocks may have come since
    finally:
        down(tmp_path / "devnet")


def test_blocks_come_every_450_ms_by_their_headers(node: BscNode) -> None:
    start = node.chain.block_number()
    blocks = [node.wait_for_block(n) for n in range(start, start + 12)]
    stamps = [int(b["milliTimestamp"], 16) for b in blocks]
    # milliTimestamp and the header's seconds agree.
    assert all(ms // 1000 == int(b["timestamp"], 16) for ms, b in zip(stamps, blocks, strict=True))
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= FERMI_INTERVAL_MS, gaps
    assert statistics.median(gaps) == FERMI_INTERVAL_MS, gaps


def test_finalized_follows_the_head_by_a_block_or_two(node: BscNode) -> None:
    first = node.wait_for_finality()
    assert node.chain.block_number() >= FIRST_VOTE_BLOCKS
    lags = []
    for _ in range(8):
        head = node.chain.block_number()
        lags.append(head - node.finalized())
        time.sleep(0.3)
    assert max(lags) <= 3, lags
    assert node.finalized() > first
    # bsc's own read of the same: eth_getFinalizedBlock(verifiedValidatorNum), here 1 of 1.
    assert int(node.rpc.call("eth_getFinalizedBlock", 1, False)["number"], 16) >= first


def test_parlia_lists_our_validator(node: BscNode) -> None:
    ours = validator_account(PROFILE).address.lower()
    assert [v.lower() for v in node.rpc.call("parlia_getValidators", "latest")] == [ours]
    assert node.block("latest")["miner"].lower() == ours


def test_the_validator_is_registered_in_stakehub_once_ready(node: BscNode) -> None:
    """Without it, the chain halts at the first breathe block (tests/test_bsc_breathe_block.py)."""
    assert operator_of(node.chain, validator_account(PROFILE).address) == operator_account(PROFILE).address


def test_a_prefunded_account_transfers_with_web3py(node: BscNode) -> None:
    """As on BSC itself, web3.py reads Parlia's blocks (extraData over 32 bytes: the validator
    set and its signature) only with its proof-of-authority middleware."""
    w3 = Web3(HTTPProvider(node.handle.rpc_url))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    alice = derive_account(PROFILE.mnemonic, 1)
    bob = derive_account(PROFILE.mnemonic, 2)
    assert w3.eth.get_balance(alice.address) == PROFILE.prefund_wei
    before = w3.eth.get_balance(bob.address)
    tx = {
        "to": bob.address,
        "value": 10**18,
        "gas": 21_000,
        "gasPrice": PROFILE.min_gas_price_wei,
        "nonce": w3.eth.get_transaction_count(alice.address),
        "chainId": w3.eth.chain_id,
    }
    signed = Account.sign_transaction(tx, alice.key)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), 30)
    assert receipt["status"] == 1
    assert w3.eth.get_balance(bob.address) == before + 10**18
    assert w3.eth.get_block(receipt["blockNumber"])["baseFeePerGas"] == 0


def test_a_contract_deploys_and_answers(node: BscNode) -> None:
    owner = sender(3)
    feed = node.chain.deploy(owner, "ReserveFeed", 2, "KGST reserve", owner.address, owner.address)
    assert len(node.chain.code(feed)) > 0
    contract = node.chain.contract("ReserveFeed", feed)
    assert node.chain.call(contract, "decimals") == 2


def test_fees_are_paid_to_the_validator_by_a_system_transaction(node: BscNode) -> None:
    payer = sender(4)
    included = node.chain.wait(node.chain.send(payer, payer.address, value=1, gas=21_000)).block_number
    txs = node.block(included, full=True)["transactions"]
    ours = validator_account(PROFILE).address.lower()
    system = [t for t in txs if (t["to"] or "").lower() == VALIDATOR_CONTRACT and t["from"].lower() == ours]
    assert system, f"no system transaction in block {included}: {txs}"
    assert system[-1]["input"].startswith(DEPOSIT_SELECTOR)
    assert int(system[-1]["gasPrice"], 16) == 0
    # Throughput counts what users sent: the system transactions and their gas left out.
    block = node.block(included, full=True)
    assert [t["hash"] for t in txs if is_system_transaction(t, block)] == [t["hash"] for t in system]
    users = [t for t in txs if t not in system]
    gas = sum(int(node.rpc.call("eth_getTransactionReceipt", t["hash"])["gasUsed"], 16) for t in users)
    assert user_load(node.rpc, block) == (len(users), gas) and len(users) >= 1


def test_gas_price_below_the_profiles_minimum_is_refused(node: BscNode) -> None:
    cheap = Chain(node.handle.rpc_url, gas_price=PROFILE.min_gas_price_wei // 5, chain_id=PROFILE.chain_id)
    payer = sender(5)
    try:
        with pytest.raises(Exception, match=r"(?i)underpriced|gas price|gas tip"):
            cheap.send(payer, payer.address, gas=21_000)
    finally:
        cheap.close()


def test_node_control_waits_for_blocks_and_refuses_an_injected_reorg(node: BscNode) -> None:
    """What the harness's `devnet.mine(n)` and `devnet.reorg(...)` mean on bsc: the validators
    seal on their own clock, so mining waits for the next blocks; a reorg is theirs to make."""
    control = NodeControl(node.rpc, "bsc")
    before = control.head()
    after = control.mine(3)
    assert after >= before + 3
    assert node.block(after)["number"] == hex(after)
    with pytest.raises(ReorgNotOnDemand, match="no reorg on demand"):
        control.reorg(1)
    assert control.head() >= after  # nothing was replaced


def test_a_stopped_node_resumes_the_same_chain(node: BscNode) -> None:
    """Last in this module: it stops the module's node and starts it again on its datadir."""
    node.wait_for_finality()
    before_head = node.chain.block_number()
    block_2 = node.block(2)["hash"]
    node.stop()
    resumed = _start(node.workdir)
    node.handle, node.chain = resumed.handle, resumed.chain
    assert node.block(2)["hash"] == block_2
    head = node.wait_for_block(before_head + 3)
    assert int(head["number"], 16) > before_head
    assert [v.lower() for v in node.rpc.call("parlia_getValidators", "latest")] == [
        validator_account(PROFILE).address.lower()
    ]
