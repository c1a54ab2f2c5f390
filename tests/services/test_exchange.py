"""The exchange-listing simulator against a real chain (geth, a devnet of this module's own):
listing review, network config, deposits through confirmations and a reorg, sweeps,
withdrawals, internal transfers, pause and blacklist, idempotency, SIGKILL and restart."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.hdaccount import generate_mnemonic
from eth_account.types import Language

from devnet.core.accounts import ROLE_LAYOUT, derive_account
from devnet.core.chain import Chain
from devnet.core.env import DevnetEnv
from devnet.core.http import ApiError
from devnet.core.tokens import StableCoinClient
from devnet.core.wait import wait_until
from devnet.core.wallets import Wallet
from devnet.node.process import pid_alive
from devnet.profile import BscProfile, Engine
from devnet.services.exchange.api import (
    ConfiguredSwitches,
    DepositStatus,
    ReviewCheck,
    ReviewOut,
    SweepOut,
    SweepSkipped,
    SweepStatus,
    TokenBalance,
    TransferStatus,
    WithdrawalStatus,
)
from devnet.services.exchange.client import ExchangeClient
from devnet.services.exchange.erc20 import TRANSFER_TOPIC, TransferLog, get_logs, parse_transfer
from devnet.services.exchange.watcher import Watcher
from devnet.services.launch import ServiceHandle, start_service
from devnet.world import down, up
from harness.node_control import NodeControl
from harness.webhook_sink import WebhookSink

# Blocks are sealed when a test mines them (confirmations are counted exactly) and reorgs are
# injected at chosen depths: geth. On bsc, tests/test_bsc_faults.py credits a deposit once
# across a real reorg, and the shared world's listing and flows run there.
pytestmark = pytest.mark.engines("geth")

KGST_UNIT = 10**18
WEBHOOK_SECRET = "whsec_test_exchange"
#: KGST's network config in these tests: fee 1 KGST, min 2, max 1000, steps of 0.001, dust 0.1.
KGST_NETWORK = {
    "withdrawFee": str(KGST_UNIT),
    "withdrawMin": str(2 * KGST_UNIT),
    "withdrawMax": str(1000 * KGST_UNIT),
    "withdrawIntegerMultiple": str(KGST_UNIT // 1000),
    "depositDust": str(KGST_UNIT // 10),
}
MIN_CONFIRM, UNLOCK_CONFIRM = 2, 4
#: Devnet mnemonic indices with BNB that no role uses: the token whale, then gas funders.
WHALE_INDEX, FIRST_FUNDER_INDEX = 30, 100


@dataclass
class World:
    root: Path
    env: DevnetEnv
    chain: Chain
    kgst: StableCoinClient
    usdkg: StableCoinClient
    whale: Wallet
    sink: WebhookSink
    _funders: Iterator[int] = field(default_factory=lambda: itertools.count(FIRST_FUNDER_INDEX))

    def role(self, index: int) -> Wallet:
        return Wallet.of(derive_account(self.env.mnemonic, index))

    @property
    def node(self) -> NodeControl:
        return NodeControl(self.chain.rpc, self.env.node.engine)

    def mine(self, blocks: int = 1) -> None:
        self.node.mine(blocks)

    def deposit(self, address: str, amount: int) -> str:
        return self.kgst.transfer(self.whale, address, amount).tx_hash

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """An exchange of its own: own mnemonic (own hot wallet and deposit addresses), own funder."""
        funder = derive_account(self.env.mnemonic, next(self._funders))
        settings: dict[str, Any] = {
            "rpc_url": self.env.rpc_url,
            "chain_id": self.env.chain_id,
            "gas_price_wei": self.env.gas_price_wei,
            "mnemonic": generate_mnemonic(12, Language.ENGLISH),
            "gas_funder_key": "0x" + bytes(funder.key).hex(),
            "tokens": {"KGST": self.kgst.address, "USDKG": self.usdkg.address},
            "networks": {"KGST": KGST_NETWORK},
            "min_confirm": MIN_CONFIRM,
            "unlock_confirm": UNLOCK_CONFIRM,
            "poll_interval_s": 0.05,
            "webhook_secret": WEBHOOK_SECRET,
            "webhook_subscribers": [self.sink.url],
            "webhook_retry_base_s": 0.05,
        }
        settings.update(overrides)
        return settings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, world_engine: Engine) -> Iterator[World]:
    root = tmp_path_factory.mktemp("exchange")
    # Blocks only when the tests mine them: confirmations are counted exactly.
    env = up(root / "devnet", engine=world_engine, profile=BscProfile(seal_until_final=False))
    chain = Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
    sink = WebhookSink(WEBHOOK_SECRET)
    try:
        kgst = StableCoinClient(chain, env.deployment.token("KGST"))
        usdkg = StableCoinClient(chain, env.deployment.token("USDKG"))
        world = World(
            root, env, chain, kgst, usdkg, Wallet.of(derive_account(env.mnemonic, WHALE_INDEX)), sink
        )
        kgst.report_reserve(world.role(ROLE_LAYOUT.reporter), 10**14)  # 1e12 KGS
        minter = world.role(ROLE_LAYOUT.first_minter)
        kgst.mint(minter, world.whale, kgst.units(1_000_000))
        # A history with every supply change the listing review reconciles: mint, burn, redeem.
        kgst.mint(minter, minter, kgst.units(3))
        kgst.burn(minter, kgst.units(1))
        kgst.redeem(world.whale, kgst.units(1), "1030120000000011")
        yield world
    finally:
        sink.close()
        chain.close()
        down(root / "devnet")


class MiningExchangeClient(ExchangeClient):
    """Its waits mine a block per look: this chain moves only when mined, and the exchange's own
    withdrawals and sweeps complete only once their block is final."""

    def __init__(self, url: str, world: World, **options: Any):
        super().__init__(url, **options)
        self.world = world

    def wait_for(self, probe: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
        def mined_then(probe: Callable[[], Any] = probe) -> Any:
            self.world.mine(1)
            return probe()

        return super().wait_for(mined_then, timeout, interval)


class Exchanges:
    """Exchange processes for one test (or the module), stopped at the end."""

    def __init__(self, world: World):
        self.world = world
        self.handles: list[ServiceHandle] = []
        self.clients: list[ExchangeClient] = []

    def start(self, workdir: Path, settings: dict[str, Any]) -> tuple[ExchangeClient, ServiceHandle]:
        handle = start_service("exchange", workdir, settings=settings)
        self.handles.append(handle)
        client = MiningExchangeClient(handle.url, self.world, retries=2)
        self.clients.append(client)
        # Ready: the watcher has a cursor and the funder's BNB top-up of the hot wallet is mined,
        # so no block of the exchange's own lands in the middle of a test.
        wait(lambda: client.info().last_block is not None, what="watcher started")
        if settings.get("gas_funder_key"):
            hot = client.info().hot_wallet
            wait(lambda: self.world.chain.balance(hot) > 0, what="hot wallet topped up")
        return client, handle

    def new(self, name: str, **overrides: Any) -> tuple[ExchangeClient, ServiceHandle, dict[str, Any]]:
        settings = self.world.settings(**overrides)
        client, handle = self.start(self.world.root / name, settings)
        return client, handle, settings

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for handle in self.handles:
            handle.stop()


@pytest.fixture(scope="module")
def exchange(world: World) -> Iterator[ExchangeClient]:
    """The exchange most tests share (each with users of its own)."""
    exchanges = Exchanges(world)
    client, _, _ = exchanges.new("exchange-main")
    yield client
    exchanges.close()


@pytest.fixture
def exchanges(world: World) -> Iterator[Exchanges]:
    """For tests that kill, restart or need an empty hot wallet: exchanges of their own."""
    own = Exchanges(world)
    yield own
    own.close()


# ---- helpers --------------------------------------------------------------------------------


def wait(probe: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    return wait_until(probe, timeout, what, interval=0.05)


def caught_up(world: World, ex: ExchangeClient) -> None:
    head = world.chain.block_number()
    wait(lambda: (ex.info().last_block or 0) >= head, what=f"watcher at block {head}")


def kgst_balance(ex: ExchangeClient, user_id: str) -> TokenBalance:
    return ex.balance(user_id, "KGST")


def funded_user(world: World, ex: ExchangeClient, name: str, amount: int) -> tuple[str, str]:
    """A user with `amount` KGST available (deposited, confirmed, unlocked). -> (user, address)."""
    user = ex.create_user(name)
    address = ex.deposit_address(user, "KGST")
    world.deposit(address, amount)
    world.mine(UNLOCK_CONFIRM)
    wait(lambda: kgst_balance(ex, user).available == amount, what=f"{name} funded")
    return user, address


def problem(call: Callable[[], Any]) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


def sweep_all(ex: ExchangeClient) -> list[SweepOut]:
    started = ex.sweep("KGST")
    return [ex.wait_sweep(s.id, timeout=30) for s in started.sweeps]


def hook_for(world: World, type_: str, object_id: str) -> dict[str, Any]:
    events = world.sink.wait_for(
        lambda evs: any(e["type"] == type_ and e["data"]["id"] == object_id for e in evs), timeout=15
    )
    return next(e for e in events if e["type"] == type_ and e["data"]["id"] == object_id)


def checks(review: ReviewOut) -> dict[str, ReviewCheck]:
    return {c.name: c for c in review.checks}


# ---- listing review ------------------------------------------------------------------------


def test_listing_review_passes_for_kgst_and_usdkg(world: World, exchange: ExchangeClient) -> None:
    for token in (world.kgst, world.usdkg):
        review = exchange.review(token.address)
        assert review.passed, review
        assert set(checks(review)) == {
            "contract_code",
            "bep20_metadata",
            "runtime_bytecode",
            "transfer_events",
            "fee_on_transfer",
            "paused",
            "blacklist",
        }
        assert all(c.passed for c in review.checks)
        assert f"symbol='{token.info.symbol}'" in checks(review)["bep20_metadata"].detail
        assert review.capabilities.blacklist and review.capabilities.pause
        assert exchange.get_review(review.id) == review
    kgst_review = checks(exchange.review(world.kgst.address))
    assert "2 Mint, 1 Burn, 1 Redeemed" in kgst_review["transfer_events"].detail
    assert "delivered it in full" in kgst_review["fee_on_transfer"].detail


def test_listing_review_flags_fee_on_transfer(world: World, exchange: ExchangeClient) -> None:
    owner = world.role(ROLE_LAYOUT.owner)
    world.kgst.set_transfer_fee(owner, 10, world.role(ROLE_LAYOUT.fee_collector))
    try:
        review = exchange.review(world.kgst.address)
    finally:
        world.kgst.set_transfer_fee(owner, 0, world.role(ROLE_LAYOUT.fee_collector))
    assert not review.passed
    fee = checks(review)["fee_on_transfer"]
    assert not fee.passed
    assert "transferFeeBps=10" in fee.detail
    assert "credit the balance change" in fee.detail  # the simulated transfer delivered less
    assert checks(review)["runtime_bytecode"].passed  # same code: the fee is configuration


def test_listing_review_flags_a_paused_token(world: World, exchange: ExchangeClient) -> None:
    pauser = world.role(ROLE_LAYOUT.pauser)
    world.kgst.pause(pauser)
    try:
        review = exchange.review(world.kgst.address)
    finally:
        world.kgst.unpause(pauser)
        # The exchange saw the pause (its watcher reads it every tick): leave once it saw the end.
        wait(lambda: exchange.network("KGST").status == "normal", what="unpause seen")
    assert not review.passed
    paused = checks(review)["paused"]
    assert not paused.passed
    assert "paused() is true" in paused.detail and "Pausable: paused" in paused.detail


def test_listing_review_flags_other_code_and_accounts(world: World, exchange: ExchangeClient) -> None:
    feed = exchange.review(world.env.contracts["KGST.feed.reserve"])
    assert not feed.passed
    assert checks(feed)["contract_code"].passed
    assert not checks(feed)["runtime_bytecode"].passed
    assert "differs from the committed StableCoin artifact" in checks(feed)["runtime_bytecode"].detail
    assert not checks(feed)["bep20_metadata"].passed

    eoa = exchange.review(world.whale.address)
    assert not eoa.passed
    assert not checks(eoa)["contract_code"].passed
    assert "externally owned account" in checks(eoa)["contract_code"].detail

    bad = problem(lambda: exchange.post("/listings/reviews", {"token_address": "0x1234"}))
    assert (bad.status, bad.field) == (422, "body.token_address")


# ---- network config ------------------------------------------------------------------------


def test_networks_show_binance_fields_and_admin_changes_them(world: World, exchange: ExchangeClient) -> None:
    networks = exchange.networks()
    kgst = networks["KGST"]
    assert kgst.contract_address == world.kgst.address
    assert kgst.withdraw_fee == KGST_UNIT and kgst.withdraw_min == 2 * KGST_UNIT
    assert (kgst.min_confirm, kgst.unlock_confirm) == (MIN_CONFIRM, UNLOCK_CONFIRM)
    assert kgst.address_regex == "^(0x)[0-9A-Fa-f]{40}$"
    assert kgst.deposit_enable and kgst.withdraw_enable and kgst.status == "normal"
    assert networks["USDKG"].decimals == 6

    unauthorized = problem(
        lambda: ExchangeClient(exchange.base_url, admin_token="wrong").update_network("USDKG")
    )
    assert (unauthorized.status, unauthorized.field) == (401, "header.Authorization")
    inconsistent = problem(lambda: exchange.update_network("USDKG", minConfirm=5, unLockConfirm=3))
    assert (inconsistent.status, inconsistent.field) == (422, "body.unLockConfirm")

    changed = exchange.update_network("USDKG", withdrawFee=5, withdrawMin=10, depositEnable=False)
    assert changed.withdraw_fee == 5 and changed.withdraw_min == 10
    assert not changed.deposit_enable and changed.status == "deposits disabled by admin"
    volatile = {"state_block", "state_checked_at"}  # the watcher re-reads the status every tick
    one, listed = exchange.network("USDKG"), exchange.networks()["USDKG"]
    assert one.model_dump(exclude=volatile) == listed.model_dump(exclude=volatile)
    user = exchange.create_user("usdkg-depositor")
    disabled = problem(lambda: exchange.deposit_address(user, "USDKG"))
    assert (disabled.status, disabled.field) == (409, "body.token")
    restored = exchange.update_network("USDKG", depositEnable=True)
    assert restored.deposit_enable and restored.status == "normal"


# ---- deposits ------------------------------------------------------------------------------


def test_deposit_is_pending_then_credited_then_unlocked_once(world: World, exchange: ExchangeClient) -> None:
    user = exchange.create_user("alice")
    address = exchange.deposit_address(user, "KGST")
    assert exchange.deposit_address(user, "KGST") == address  # one per user per token
    assert address != exchange.deposit_address(exchange.create_user("bob"), "KGST")
    amount = world.kgst.units(100)

    tx_hash = world.deposit(address, amount)
    assert wait(lambda: kgst_balance(exchange, user).pending == amount, what="pending")
    assert kgst_balance(exchange, user) == TokenBalance(available=0, locked=0, pending=amount)
    [deposit] = exchange.deposits(user)
    assert (deposit.tx_hash, deposit.status, deposit.amount) == (tx_hash, DepositStatus.PENDING, amount)

    world.mine(MIN_CONFIRM - 1)
    wait(lambda: kgst_balance(exchange, user).locked == amount, what="credited")
    assert kgst_balance(exchange, user) == TokenBalance(available=0, locked=amount, pending=0)
    world.mine(UNLOCK_CONFIRM - MIN_CONFIRM)
    wait(lambda: kgst_balance(exchange, user).available == amount, what="unlocked")
    assert kgst_balance(exchange, user) == TokenBalance(available=amount, locked=0, pending=0)

    for type_ in ("deposit.pending", "deposit.credited", "deposit.unlocked"):
        event = hook_for(world, type_, deposit.id)
        assert event["data"]["amount"] == str(amount) and event["data"]["tx_hash"] == tx_hash

    # Scanning the same blocks again finds the deposit recorded: nothing is credited twice.
    exchange.rescan(deposit.block_number - 1)
    world.mine(1)
    caught_up(world, exchange)
    assert kgst_balance(exchange, user) == TokenBalance(available=amount, locked=0, pending=0)
    assert [d.id for d in exchange.deposits_of_tx(tx_hash)] == [deposit.id]
    assert exchange.deposits(user)[0].status == DepositStatus.UNLOCKED


def test_dust_deposit_is_recorded_not_credited(world: World, exchange: ExchangeClient) -> None:
    user = exchange.create_user("dusty")
    address = exchange.deposit_address(user, "KGST")
    dust = KGST_UNIT // 20  # 0.05 < depositDust 0.1
    world.deposit(address, dust)
    world.deposit(address, KGST_UNIT)
    world.mine(UNLOCK_CONFIRM)
    wait(lambda: kgst_balance(exchange, user).available == KGST_UNIT, what="the real deposit unlocked")
    statuses = sorted((d.status, d.amount) for d in exchange.deposits(user))
    assert statuses == [(DepositStatus.DUST, dust), (DepositStatus.UNLOCKED, KGST_UNIT)]
    assert kgst_balance(exchange, user) == TokenBalance(available=KGST_UNIT, locked=0, pending=0)


def test_fee_on_transfer_deposit_credits_what_arrived(world: World, exchange: ExchangeClient) -> None:
    owner, collector = world.role(ROLE_LAYOUT.owner), world.role(ROLE_LAYOUT.fee_collector)
    user = exchange.create_user("fee-payer")
    address = exchange.deposit_address(user, "KGST")
    value = world.kgst.units(100)
    world.kgst.set_transfer_fee(owner, 20, collector)  # 0.2 %
    try:
        world.deposit(address, value)
    finally:
        world.kgst.set_transfer_fee(owner, 0, collector)
    arrived = world.kgst.balance_of(address)
    assert arrived == value - value * 20 // 10_000
    world.mine(UNLOCK_CONFIRM)
    wait(lambda: kgst_balance(exchange, user).available == arrived, what="fee-on-transfer credit")
    [deposit] = exchange.deposits(user)
    assert deposit.amount == arrived < value


def test_credit_is_the_balance_change_when_logs_overstate_it() -> None:
    """A token that logs the full value but delivers less (fee kept silently): pro rata to the
    balance change; outgoing transfers of the same block are added back."""
    token, address = "0x" + "11" * 20, "0x" + "22" * 20
    balances = {9: 0, 10: 1_150}  # +1 500 logged in, 200 logged out: the change is 1 350

    class FakeRpc:
        def call(self, method: str, call: dict[str, Any], block: str) -> str:
            assert method == "eth_call"
            return "0x" + balances[int(block, 16)].to_bytes(32, "big").hex()

    def log(sender: str, recipient: str, value: int, index: int) -> TransferLog:
        return TransferLog(token, sender, recipient, value, "0xaa", index, 10, "0xbb")

    watcher = Watcher.__new__(Watcher)
    watcher.rpc = FakeRpc()  # type: ignore[assignment]
    incoming = [log("0x" + "33" * 20, address, 1_000, 0), log("0x" + "44" * 20, address, 500, 1)]
    outgoing = [log(address, "0x" + "55" * 20, 200, 2)]
    amounts = watcher._credited_amounts(incoming, incoming + outgoing)
    assert amounts == {("0xaa", 0): 900, ("0xaa", 1): 450}
    balances[10] = 1_300  # the full 1 500 arrived: the log values are credited
    assert watcher._credited_amounts(incoming, incoming + outgoing) == {("0xaa", 0): 1_000, ("0xaa", 1): 500}


def test_reorg_reverses_a_credited_locked_deposit(world: World, exchange: ExchangeClient) -> None:
    rpc = world.chain.rpc
    user = exchange.create_user("reorged")
    address = exchange.deposit_address(user, "KGST")
    amount = world.kgst.units(40)
    data = world.chain.encode_call(world.kgst.contract, "transfer", address, amount)
    signed = world.chain.sign(world.whale, world.kgst.address, data, gas=200_000)
    world.chain.submit(world.whale, signed)
    wait(lambda: kgst_balance(exchange, user).pending == amount, what="pending")
    world.mine(MIN_CONFIRM - 1)
    wait(lambda: kgst_balance(exchange, user).locked == amount, what="credited")
    [deposit] = exchange.deposits(user)
    assert deposit.status == DepositStatus.CREDITED

    # The deposit's block and the one on top are replaced by a branch without it (fork choice
    # on geth; their parent is the finalized block, so fast finality allows it).
    reorg = world.node.reorg(MIN_CONFIRM)
    assert signed.hash_hex in reorg.dropped and deposit.block_hash in reorg.replaced
    world.whale.resync(rpc)
    world.mine(1)
    assert rpc.call("eth_getTransactionReceipt", signed.hash_hex) is None
    wait(lambda: exchange.deposits(user)[0].status == DepositStatus.REVERSED, what="reversed")
    assert kgst_balance(exchange, user) == TokenBalance(available=0, locked=0, pending=0)
    assert hook_for(world, "deposit.reversed", deposit.id)["data"]["previous_status"] == "credited"
    world.mine(UNLOCK_CONFIRM)
    caught_up(world, exchange)
    assert kgst_balance(exchange, user).available == 0  # never unlocked

    # The same transaction mined again later: the deposit comes back, credited once.
    world.chain.submit(world.whale, signed)
    world.whale.resync(rpc)
    world.mine(UNLOCK_CONFIRM)
    wait(lambda: kgst_balance(exchange, user).available == amount, what="re-mined deposit unlocked")
    [again] = exchange.deposits(user)
    assert (again.id, again.status, again.reversals) == (deposit.id, DepositStatus.UNLOCKED, 1)
    assert again.block_hash != deposit.block_hash
    assert kgst_balance(exchange, user) == TokenBalance(available=amount, locked=0, pending=0)


# ---- sweeps, withdrawals, internal transfers ------------------------------------------------


def test_sweep_tops_up_gas_and_moves_tokens_to_the_hot_wallet(world: World, exchange: ExchangeClient) -> None:
    user, address = funded_user(world, exchange, "swept", world.kgst.units(50))
    hot = exchange.info().hot_wallet
    assert world.chain.balance(address) == 0  # a fresh deposit address has no BNB for gas
    hot_before = world.kgst.balance_of(hot)
    sweeps = sweep_all(exchange)
    mine = next(s for s in sweeps if s.address == address)
    assert mine.status == SweepStatus.COMPLETED, mine
    assert mine.amount == mine.received == world.kgst.units(50)
    assert mine.gas_topup_wei > 0 and mine.gas_tx_hash and mine.tx_hash
    assert world.kgst.balance_of(address) == 0
    assert world.kgst.balance_of(hot) - hot_before == sum(s.received or 0 for s in sweeps)
    assert kgst_balance(exchange, user).available == world.kgst.units(50)  # the ledger is unchanged
    assert hook_for(world, "sweep.completed", mine.id)["data"]["tx_hash"] == mine.tx_hash


def test_withdrawal_sends_amount_minus_fee_and_replays_idempotently(
    world: World, exchange: ExchangeClient
) -> None:
    user, _ = funded_user(world, exchange, "withdrawer", world.kgst.units(30))
    sweep_all(exchange)
    recipient = derive_account(world.env.mnemonic, 60).address
    before = world.kgst.balance_of(recipient)
    key = str(uuid.uuid4())
    first = exchange.withdraw(user, "KGST", recipient, world.kgst.units(12), key=key)
    assert first.status == WithdrawalStatus.PROCESSING and first.fee == KGST_UNIT
    replay = httpx.post(
        f"{exchange.base_url}/withdrawals",
        json={"user_id": user, "token": "KGST", "address": recipient, "amount": str(world.kgst.units(12))},
        headers={"Idempotency-Key": key},
    )
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["id"] == first.id
    done = exchange.wait_withdrawal(first.id)
    assert done.status == WithdrawalStatus.COMPLETED and done.tx_hash, done
    assert world.kgst.balance_of(recipient) - before == world.kgst.units(11)  # amount - withdrawFee
    assert kgst_balance(exchange, user) == TokenBalance(available=world.kgst.units(18), locked=0, pending=0)
    receipt = world.chain.rpc.call("eth_getTransactionReceipt", done.tx_hash)
    assert receipt["status"] == "0x1"
    assert hook_for(world, "withdrawal.completed", first.id)["data"]["tx_hash"] == done.tx_hash
    reused = problem(lambda: exchange.withdraw(user, "KGST", recipient, world.kgst.units(13), key=key))
    assert (reused.status, reused.field) == (422, "header.Idempotency-Key")


@pytest.mark.parametrize("depth", [1, 2])
def test_a_withdrawal_reorganised_away_is_sent_again_and_paid_once(
    world: World, exchange: ExchangeClient, depth: int
) -> None:
    user, _ = funded_user(world, exchange, f"reorged withdrawal {depth}", world.kgst.units(30))
    sweep_all(exchange)
    recipient = Account.create().address
    w = exchange.withdraw(user, "KGST", recipient, world.kgst.units(12))
    rpc = world.chain.rpc
    # In a block, not final (this chain moves only when mined): still processing.
    tx_hash = wait(lambda: (x := exchange.withdrawal(w.id).tx_hash) and rpc.receipt(x) and x, what="included")
    receipt = rpc.receipt(tx_hash)
    first_block = receipt["blockHash"]
    if depth == 2:
        world.mine(1)
    assert exchange.withdrawal(w.id).status == WithdrawalStatus.PROCESSING
    # Its block and every block above it: `depth` of them, unless the exchange topped its hot
    # wallet's gas up meanwhile (the withdrawal spent some), a transaction sealed on demand.
    reorg = world.node.reorg(world.node.head() - int(receipt["blockNumber"], 16) + 1)
    assert first_block in reorg.replaced and len(reorg.replaced) >= depth
    done = exchange.wait_withdrawal(w.id)  # mines until final
    assert (done.status, done.tx_hash) == (WithdrawalStatus.COMPLETED, tx_hash)  # the same bytes, sent again
    assert rpc.receipt(tx_hash)["blockHash"] != first_block
    world.mine(3)
    assert world.kgst.balance_of(recipient) == world.kgst.units(11)  # paid once: amount - withdrawFee
    assert kgst_balance(exchange, user) == TokenBalance(available=world.kgst.units(18), locked=0, pending=0)
    completed = [
        e for e in world.sink.events if e["type"] == "withdrawal.completed" and e["data"]["id"] == w.id
    ]
    assert {e["id"] for e in completed} == {completed[0]["id"]}  # one event (a retry repeats its id)


def test_a_sweep_reorganised_away_completes_once(world: World, exchange: ExchangeClient) -> None:
    _, address = funded_user(world, exchange, "reorged sweep", world.kgst.units(25))
    hot = exchange.info().hot_wallet
    hot_before = world.kgst.balance_of(hot)
    started = exchange.sweep("KGST")
    [mine] = [s for s in started.sweeps if s.address == address]
    rpc = world.chain.rpc
    # The gas top-up goes first, then the token transfer: hold the transfer's block unfinalized.
    tx_hash = wait(
        lambda: (world.mine(1), (x := exchange.get_sweep(mine.id).tx_hash) and rpc.receipt(x) and x)[1],
        what="token transfer included",
    )
    receipt = rpc.receipt(tx_hash)
    first_block = receipt["blockHash"]
    reorg = world.node.reorg(world.node.head() - int(receipt["blockNumber"], 16) + 1)
    assert first_block in reorg.replaced
    done = exchange.wait_sweep(mine.id, timeout=30)
    assert (done.status, done.tx_hash) == (SweepStatus.COMPLETED, tx_hash)
    # The admin's sweep took every deposit address holding KGST, not only this test's.
    others = [exchange.wait_sweep(s.id, timeout=30) for s in started.sweeps if s.id != mine.id]
    world.mine(3)
    assert world.kgst.balance_of(address) == 0
    assert done.received == world.kgst.units(25)
    assert world.kgst.balance_of(hot) - hot_before == sum(s.received or 0 for s in [done, *others])


def test_withdrawal_bad_input_names_the_field(world: World, exchange: ExchangeClient) -> None:
    user = exchange.create_user("careless")
    good = derive_account(world.env.mnemonic, 61).address
    unit = KGST_UNIT

    def attempt(**changes: Any) -> ApiError:
        body: dict[str, Any] = {"user_id": user, "token": "KGST", "address": good, "amount": str(10 * unit)}
        body.update(changes)
        return problem(lambda: exchange.post("/withdrawals", body))

    bad_checksum = good[:2] + good[2:].swapcase() if good[2:] != good[2:].swapcase() else good
    cases = {
        "short address": (attempt(address="0x1234"), "body.address"),
        "not hex": (attempt(address="0x" + "g" * 40), "body.address"),
        "bad EIP-55 checksum": (attempt(address=bad_checksum), "body.address"),
        "below withdrawMin": (attempt(amount=str(unit)), "body.amount"),
        "above withdrawMax": (attempt(amount=str(1001 * unit)), "body.amount"),
        "not a multiple": (attempt(amount=str(2 * unit + unit // 2000)), "body.amount"),
        "a float": (attempt(amount=10.5), "body.amount"),
        "not a number": (attempt(amount="12abc"), "body.amount"),
        "insufficient balance": (attempt(), "body.amount"),
        "unknown token": (attempt(token="DOGE"), "body.token"),
        "unknown user": (attempt(user_id="usr_nobody"), "body.user_id"),
    }
    for name, (error, field_) in cases.items():
        assert (error.status, error.field) == (422, field_), (name, error.problem)
    assert "Insufficient balance" in cases["insufficient balance"][0].title
    assert "withdrawIntegerMultiple" in str(cases["not a multiple"][0])


def test_failed_withdrawal_restores_the_balance(world: World, exchanges: Exchanges) -> None:
    """No gas funder: the hot wallet pays its own gas (funded here), but holds no tokens yet."""
    ex, _, _ = exchanges.new("exchange-unswept", gas_funder_key="")
    hot = ex.info().hot_wallet
    world.chain.wait(world.chain.send(world.whale, hot, value=10**18))
    user, _ = funded_user(world, ex, "unlucky", world.kgst.units(10))
    w = ex.withdraw(user, "KGST", world.whale.address, world.kgst.units(5))
    done = ex.wait_withdrawal(w.id)
    assert done.status == WithdrawalStatus.FAILED
    assert done.failure_reason.startswith("ERC20InsufficientBalance"), done
    assert kgst_balance(ex, user) == TokenBalance(available=world.kgst.units(10), locked=0, pending=0)
    assert hook_for(world, "withdrawal.failed", w.id)["data"]["failure_reason"] == done.failure_reason

    # Swept (the hot wallet pays the deposit address's gas itself), the same request succeeds.
    hot_bnb = world.chain.balance(hot)
    [sweep] = sweep_all(ex)
    assert sweep.status == SweepStatus.COMPLETED and sweep.gas_topup_wei > 0
    assert world.chain.balance(hot) <= hot_bnb - sweep.gas_topup_wei  # paid by the hot wallet
    retry = ex.wait_withdrawal(ex.withdraw(user, "KGST", world.whale.address, world.kgst.units(5)).id)
    assert retry.status == WithdrawalStatus.COMPLETED, retry
    assert kgst_balance(ex, user) == TokenBalance(available=world.kgst.units(5), locked=0, pending=0)


def test_internal_transfer_moves_available_balance_off_chain(world: World, exchange: ExchangeClient) -> None:
    alice, _ = funded_user(world, exchange, "payer", world.kgst.units(20))
    bob = exchange.create_user("payee")
    head = world.chain.block_number()
    transfer = exchange.internal_transfer(alice, bob, "KGST", world.kgst.units(7))
    assert transfer.status == TransferStatus.COMPLETED and transfer.amount == world.kgst.units(7)
    assert world.chain.block_number() == head  # nothing on chain
    assert kgst_balance(exchange, alice).available == world.kgst.units(13)
    assert kgst_balance(exchange, bob).available == world.kgst.units(7)
    assert exchange.get_internal_transfer(transfer.id) == transfer
    too_much = problem(lambda: exchange.internal_transfer(alice, bob, "KGST", world.kgst.units(100)))
    assert (too_much.status, too_much.field) == (422, "body.amount")
    to_self = problem(lambda: exchange.internal_transfer(alice, alice, "KGST", 1))
    assert (to_self.status, to_self.field) == (422, "body.to_user_id")
    nobody = problem(lambda: exchange.internal_transfer(alice, "usr_nobody", "KGST", 1))
    assert (nobody.status, nobody.field) == (422, "body.to_user_id")


# ---- pause and blacklist ------------------------------------------------------------------


def test_pause_and_blacklisted_hot_wallet_disable_withdrawals(world: World, exchange: ExchangeClient) -> None:
    user = exchange.create_user("blocked")
    recipient = derive_account(world.env.mnemonic, 62).address
    pauser, blacklister = world.role(ROLE_LAYOUT.pauser), world.role(ROLE_LAYOUT.blacklister)
    hot = exchange.info().hot_wallet
    holding = exchange.deposit_address(user, "KGST")
    world.deposit(holding, KGST_UNIT)

    world.kgst.pause(pauser)
    try:
        kgst = wait(lambda: (n := exchange.network("KGST")).paused and n, what="pause seen")
        assert kgst.status == "token paused"
        assert not kgst.withdraw_enable and not kgst.deposit_enable
        assert kgst.configured == ConfiguredSwitches(deposit_enable=True, withdraw_enable=True)
        refused = problem(lambda: exchange.withdraw(user, "KGST", recipient, world.kgst.units(5)))
        assert (refused.status, refused.field) == (409, "body.token")
        assert "token paused" in str(refused) and refused.problem["status_reason"] == "token paused"
        new_address = problem(lambda: exchange.deposit_address(exchange.create_user("late"), "KGST"))
        assert new_address.status == 409
        skipped = exchange.sweep("KGST").skipped  # sweeps would revert: not even tried
        assert SweepSkipped(address=holding, token="KGST", reason="token paused") in skipped
    finally:
        world.kgst.unpause(pauser)
    assert wait(lambda: exchange.network("KGST").status == "normal", what="unpause seen")

    world.kgst.blacklist(blacklister, hot)
    try:
        kgst = wait(
            lambda: (n := exchange.network("KGST")).hot_wallet_blacklisted and n, what="blacklist seen"
        )
        assert kgst.status == "hot wallet blacklisted" and not kgst.withdraw_enable and kgst.deposit_enable
        refused = problem(lambda: exchange.withdraw(user, "KGST", recipient, world.kgst.units(5)))
        assert (refused.status, refused.field) == (409, "body.token")
        assert "hot wallet blacklisted" in str(refused)
    finally:
        world.kgst.un_blacklist(blacklister, hot)
    kgst = wait(lambda: (n := exchange.network("KGST")).status == "normal" and n, what="un-blacklist seen")
    assert kgst.withdraw_enable


# ---- idempotency and crashes ---------------------------------------------------------------


def test_writes_replay_with_the_same_key(exchange: ExchangeClient) -> None:
    key = str(uuid.uuid4())
    first = httpx.post(f"{exchange.base_url}/users", json={"name": "once"}, headers={"Idempotency-Key": key})
    again = httpx.post(f"{exchange.base_url}/users", json={"name": "once"}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    other = httpx.post(f"{exchange.base_url}/users", json={"name": "twice"}, headers={"Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["field"] == "header.Idempotency-Key"
    missing = httpx.post(f"{exchange.base_url}/users", json={"name": "nokey"})
    assert missing.status_code == 422 and missing.json()["field"] == "header.Idempotency-Key"
    user = first.json()["id"]
    address_key = str(uuid.uuid4())
    a = exchange.deposit_address(user, "KGST", key=address_key)
    assert (
        exchange.deposit_address(user, "KGST", key=address_key) == a == exchange.deposit_address(user, "KGST")
    )


def test_sigkill_and_restart_lose_nothing_and_never_double_credit(world: World, exchanges: Exchanges) -> None:
    ex, handle, settings = exchanges.new("exchange-crashy")
    workdir = world.root / "exchange-crashy"
    user = ex.create_user("survivor")
    address = ex.deposit_address(user, "KGST")
    unit = KGST_UNIT

    tx1 = world.deposit(address, 10 * unit)
    world.mine(MIN_CONFIRM - 1)
    wait(lambda: kgst_balance(ex, user).locked == 10 * unit, what="first deposit credited")
    tx2 = world.deposit(address, 20 * unit)
    wait(lambda: kgst_balance(ex, user).pending == 20 * unit, what="second deposit seen")
    handle.kill()

    tx3 = world.deposit(address, 30 * unit)  # while the exchange is down
    world.mine(UNLOCK_CONFIRM)
    ex, handle = exchanges.start(workdir, settings)
    wait(lambda: kgst_balance(ex, user).available == 60 * unit, what="all three unlocked after restart")
    deposits = ex.deposits(user)
    assert sorted(d.tx_hash for d in deposits) == sorted([tx1, tx2, tx3])
    assert {d.status for d in deposits} == {DepositStatus.UNLOCKED}
    assert kgst_balance(ex, user) == TokenBalance(available=60 * unit, locked=0, pending=0)

    # A SIGKILL mid-scan, again: the restarted watcher resumes from its stored block.
    handle.kill()
    ex, handle = exchanges.start(workdir, settings)
    world.mine(2)
    caught_up(world, ex)
    assert kgst_balance(ex, user) == TokenBalance(available=60 * unit, locked=0, pending=0)
    assert len(ex.deposits(user)) == 3

    # A withdrawal whose signed transaction is stored, then the process dies before sending it.
    [sweep] = sweep_all(ex)
    assert sweep.status == SweepStatus.COMPLETED
    handle.stop()
    ex, handle = exchanges.start(workdir, {**settings, "crash_point": "withdrawal.signed"})
    recipient = derive_account(world.env.mnemonic, 63).address
    key = str(uuid.uuid4())
    body = {"user_id": user, "token": "KGST", "address": recipient, "amount": str(25 * unit)}
    with contextlib.suppress(httpx.HTTPError):  # the process may die before it answers
        httpx.post(f"{ex.base_url}/withdrawals", json=body, headers={"Idempotency-Key": key}, timeout=10)
    wait(lambda: not pid_alive(handle.process.pid), what="the crash")
    handle.stop()
    assert world.kgst.balance_of(recipient) == 0  # signed, stored, never broadcast

    ex, handle = exchanges.start(workdir, settings)
    replay = httpx.post(f"{ex.base_url}/withdrawals", json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    done = ex.wait_withdrawal(replay.json()["id"])
    assert done.status == WithdrawalStatus.COMPLETED, done
    assert world.kgst.balance_of(recipient) == 24 * unit  # once: 25 - 1 fee
    hot = ex.info().hot_wallet
    head = world.chain.block_number()
    sent = [
        t
        for t in (
            parse_transfer(log)
            for log in get_logs(world.chain.rpc, world.kgst.address, [TRANSFER_TOPIC], 0, head)
        )
        if t and t.sender == hot and t.recipient == recipient
    ]
    assert len(sent) == 1 and sent[0].tx_hash == done.tx_hash
    assert kgst_balance(ex, user) == TokenBalance(available=35 * unit, locked=0, pending=0)

    books = ex.reconciliation()
    assert books.duplicate_deposits == [] and books.credited_deposits == 3
    assert books.tokens["KGST"].liabilities == 35 * unit  # the user's balance
    assert books.tokens["KGST"].holdings == 36 * unit  # + the 1 KGST withdrawal fee
