"""The node with the clients people use, not our harness: ethers v6 from npm (run by Node.js),
web3.py with its defaults, and Foundry's cast from npm.

Each wallet is written the ordinary way, nonces, gas and fees left to the client:
send -> wait for the receipt -> send again, EIP-2612 `permit` and EIP-3009
`transferWithAuthorization` signed with the client's typed-data signing, and the `safe` and
`finalized` tags. After every receipt, the node's `pending` reads (nonce, balance, `eth_call`,
`eth_estimateGas`, the pending block) must have caught up with the receipt's block.

Engines: the shared devnets (geth sealing on demand, anvil), and a geth node of this module's
own with a block every second (20 cycles instead of 200, to keep the time down).

Two settings differ from ethers' defaults. `cacheTimeout: -1`: ethers answers an identical read
from a 250 ms cache, so on a node that confirms faster than that (anvil's automine, on-demand
sealing; with 1 s blocks, a transaction sent just before a block) the next `sendTransaction`
reuses the nonce read before the previous one and fails with "nonce has already been used",
whatever the node answers; and `wait()` can be handed the cached "no receipt yet" and then wait
for a block after the one that holds the transaction, which on a chain sealing on demand only
comes with the next transaction. ethers' maintainers advise turning the cache off for such nodes
(ethers-io/ethers.js#4549; #5165 asks for it to be dropped after a broadcast). And
`pollingInterval` (4 s by default) is shortened, as for any local node.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware, SignAndSendRawMiddlewareBuilder

from devnet.core.accounts import RoleKeys, derive_accounts
from devnet.core.artifacts import load_artifact
from devnet.core.chain import Chain
from devnet.core.deploy import deploy_suite
from devnet.core.paths import NODE_MODULES, REPO_ROOT
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet, WalletPool
from devnet.node import start_node
from devnet.profile import BscProfile
from tests.conftest import RoleWallets

ETHERS_SCRIPT = Path(__file__).parent / "clients" / "everyday_ethers.mjs"
CAST = NODE_MODULES / "@foundry-rs/cast-linux-amd64/bin/cast"
#: This module's own accounts in the worker's lane (the other tests use users[0:3], [10:14], [-1]).
ETHERS_USERS = slice(30, 35)
WEB3_USER, CAST_USER = 35, 36
NATIVE_WEI = 1_000


@dataclass
class TokenWorld:
    """A node, a private KGST deployment on it, and the keys to fund wallets with it."""

    chain: Chain
    kgst: StableCoinClient
    reporter: Wallet
    minter: Wallet
    engine: str = "geth"

    @property
    def pending_is_latest(self) -> bool:
        """bnb-chain/bsc answers a `pending` block with its latest one (geth and anvil with the
        block being built, one after it); pending *state* is current on all three."""
        return self.engine == "bsc"

    @property
    def rpc_url(self) -> str:
        return self.chain.rpc_url

    def fund(self, *holders: Wallet, whole_tokens: int = 1_000) -> None:
        self.kgst.report_reserve(self.reporter, 10_000_000_00)
        for holder in holders:
            self.kgst.mint(self.minter, holder, self.kgst.units(whole_tokens))


@pytest.fixture
def world(engine: str, chain: Chain, kgst: StableCoinClient, roles: RoleWallets) -> TokenWorld:
    """The shared devnet of the engine (geth on demand, anvil, bsc), with a KGST of this test."""
    return TokenWorld(chain, kgst, roles.reporter, roles.minter, engine)


@pytest.fixture(scope="module")
def one_second_blocks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TokenWorld, WalletPool]]:
    """A geth node of this module's own sealing a block every second, with a KGST on it."""
    profile = BscProfile(block_period_s=1, prefunded_accounts=40)
    with start_node("geth", profile, tmp_path_factory.mktemp("one-second-blocks")) as node:
        chain = Chain(node.rpc_url, gas_price=profile.min_gas_price_wei, chain_id=profile.chain_id)
        keys = RoleKeys.from_accounts(derive_accounts(profile.mnemonic, 20, 10))
        kgst = StableCoinClient(chain, deploy_suite(chain, keys).token("KGST"))
        users = WalletPool(derive_accounts(profile.mnemonic, 30, 10))
        try:
            yield TokenWorld(chain, kgst, Wallet.of(keys.reporter), Wallet.of(keys.minters[0])), users
        finally:
            chain.close()


# ---- the tools ------------------------------------------------------------------------------------


def _node() -> str:
    """Node.js and the ethers pinned in package.json, or a failure saying how to get them."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not on PATH: these tests run ethers under Node.js >= 18 (Debian: apt-get install nodejs)"
        )
    pinned = json.loads((REPO_ROOT / "package.json").read_text())["dependencies"]["ethers"]
    installed = NODE_MODULES / "ethers" / "package.json"
    version = json.loads(installed.read_text())["version"] if installed.is_file() else None
    if version != pinned:
        pytest.fail(
            f"ethers {pinned} (package.json) is not in {NODE_MODULES} (found: {version}): "
            "run `devnet tools install` (npm ci)"
        )
    return node


def _cast() -> Path:
    if not CAST.is_file():
        pytest.fail(
            f"cast not found at {CAST}: run `devnet tools install` "
            "(npm ci fetches @foundry-rs/cast-linux-amd64)"
        )
    return CAST


def _key(wallet: Wallet) -> str:
    return "0x" + bytes(wallet.account.key).hex()


# ---- ethers v6 --------------------------------------------------------------------------------------


@dataclass
class EthersRun:
    summary: dict[str, Any]
    sender: Wallet
    owner: Wallet
    spender: Wallet
    holder: Wallet
    recipient: str
    payee: str
    nonces_before: dict[str, int]


def _run_ethers(world: TokenWorld, users: list[Wallet], cycles: int, polling_ms: int) -> EthersRun:
    sender, owner, spender, holder, relayer = users
    world.fund(sender, owner, holder)
    recipient, payee = Account.create().address, Account.create().address
    kgst = world.kgst
    nonces_before = {
        "sender": world.chain.nonce(sender.address),
        "permit": int(kgst.contract.functions.nonces(owner.address).call()),
    }
    argv = [
        _node(),
        str(ETHERS_SCRIPT),
        "--rpc", world.rpc_url,
        "--token", kgst.address,
        "--sender", _key(sender),
        "--recipient", recipient,
        "--owner", _key(owner),
        "--spender", _key(spender),
        "--holder", _key(holder),
        "--relayer", _key(relayer),
        "--payee", payee,
        "--cycles", str(cycles),
        "--native-value", str(NATIVE_WEI),
        "--token-value", str(kgst.units(1)),
        "--permit-value", str(kgst.units(50)),
        "--permit-spend", str(kgst.units(20)),
        "--authorization-value", str(kgst.units(7)),
        "--cache-timeout=-1",
        "--polling-interval", str(polling_ms),
        "--pending-block", "latest" if world.pending_is_latest else "next",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(f"{ETHERS_SCRIPT.name} exited {done.returncode}:\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    ms = sorted(summary["cycleMs"]) or [0.0]
    print(  # shown with -s, or on failure
        f"ethers {summary['ethers']} on {world.rpc_url}: {len(ms)} of {cycles} cycles done, "
        f"{len(summary['failures'])} failures; per cycle median {ms[len(ms) // 2]} ms, max {ms[-1]} ms"
    )
    return EthersRun(summary, sender, owner, spender, holder, recipient, payee, nonces_before)


def _check_ethers_run(world: TokenWorld, run: EthersRun, cycles: int) -> None:
    summary, kgst, chain = run.summary, world.kgst, world.chain
    assert summary["failures"] == []
    assert summary["pendingLags"] == []
    natives, tokens = (cycles + 1) // 2, cycles // 2
    assert summary["sent"] == {"native": natives, "token": tokens}
    # Each cycle was one transaction, nonces contiguous; the permit's and the authorization's
    # transactions came from the spender and the relayer.
    assert chain.nonce(run.sender.address) == run.nonces_before["sender"] + cycles
    assert chain.balance(run.recipient) == natives * NATIVE_WEI
    assert kgst.balance_of(run.recipient) == tokens * kgst.units(1)
    # EIP-2612: allowance granted by signature, partly spent, the owner's permit nonce used once.
    assert summary["permit"]["nonceSigned"] == str(run.nonces_before["permit"])
    assert int(kgst.contract.functions.nonces(run.owner.address).call()) == run.nonces_before["permit"] + 1
    assert kgst.allowance(run.owner, run.spender) == kgst.units(50 - 20)
    assert kgst.balance_of(run.spender) == kgst.units(20)
    assert kgst.balance_of(run.owner) == kgst.units(1_000 - 20)
    # EIP-3009: moved once to the payee, the authorization's nonce spent.
    authorization = summary["authorization"]
    assert kgst.authorization_used(run.holder, bytes.fromhex(authorization["nonce"][2:]))
    assert kgst.balance_of(run.payee) == kgst.units(7)
    assert kgst.balance_of(run.holder) == kgst.units(1_000 - 7)
    _check_tags(summary["tags"])


def _check_tags(samples: list[dict[str, int]]) -> None:
    """finalized <= safe <= latest at every read; each tag only moves forward, and does move."""
    assert len(samples) >= 2
    for sample in samples:
        assert sample["finalized"] is not None and sample["safe"] is not None
        assert sample["finalized"] <= sample["safe"] <= sample["latest"], sample
    for tag in ("finalized", "safe", "latest"):
        seen = [s[tag] for s in samples]
        assert seen == sorted(seen), (tag, seen)
        assert seen[-1] > seen[0], (tag, seen)


def test_an_ethers_wallet_sends_signs_and_reads_tags(world: TokenWorld, users: WalletPool) -> None:
    """200 send -> wait -> send cycles, a permit and a relayed authorization, with ethers v6."""
    run = _run_ethers(world, users.wallets[ETHERS_USERS], cycles=200, polling_ms=20)
    _check_ethers_run(world, run, cycles=200)


def test_an_ethers_wallet_with_one_second_blocks(one_second_blocks: tuple[TokenWorld, WalletPool]) -> None:
    """The same with a block every second (20 cycles: each waits for its block)."""
    world, users = one_second_blocks
    run = _run_ethers(world, users.wallets[0:5], cycles=20, polling_ms=100)
    _check_ethers_run(world, run, cycles=20)


# ---- web3.py with its defaults ----------------------------------------------------------------------


def _web3_pending_lags(
    w3: Web3, token: Any, sender: str, recipient: str, block: int, pending_is_latest: bool = False
) -> list[str]:
    """What a `pending` read answers right after a receipt in `block`, where behind it."""
    lags = []
    pending, at = w3.eth.get_transaction_count(sender, "pending"), w3.eth.get_transaction_count(sender, block)
    if pending < at:
        lags.append(f"nonce: pending {pending} < {at} at block {block}")
    pending, at = w3.eth.get_balance(recipient, "pending"), w3.eth.get_balance(recipient, block)
    if pending < at:
        lags.append(f"balance: pending {pending} < {at} at block {block}")
    balance_of = token.functions.balanceOf(recipient)
    pending, at = balance_of.call(block_identifier="pending"), balance_of.call(block_identifier=block)
    if pending < at:
        lags.append(f"eth_call: pending {pending} < {at} at block {block}")
    if at:
        spend_all = token.encode_abi("transfer", args=[sender, at])
        try:
            w3.eth.estimate_gas({"from": recipient, "to": token.address, "data": spend_all}, "pending")
        except Exception as e:  # the pending state does not hold what the block gave
            lags.append(f"eth_estimateGas on pending state: {e}")
    number = w3.eth.get_block("pending")["number"]
    if number is None or number < block or (number == block and not pending_is_latest):
        lags.append(f"pending block {number} is not after block {block}")
    return lags


def test_web3py_defaults_send_wait_send(world: TokenWorld, users: WalletPool) -> None:
    """200 cycles with web3.py's own nonce, gas and fee defaults (nonce from `pending`), signed
    by its local-key middleware and awaited with `wait_for_transaction_receipt`."""
    sender: LocalAccount = users[WEB3_USER].account
    world.fund(users[WEB3_USER])
    recipient = Account.create().address
    w3 = Web3(HTTPProvider(world.rpc_url))
    if world.engine == "bsc":  # Parlia's extraData (> 32 bytes): web3.py's documented setup for BSC
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(sender), layer=0)
    token = w3.eth.contract(address=world.kgst.address, abi=load_artifact("StableCoin")["abi"])
    unit = world.kgst.units(1)
    start = w3.eth.get_transaction_count(sender.address)
    cycles, failures, lags, seconds = 200, [], [], []
    for cycle in range(1, cycles + 1):
        started = time.perf_counter()
        try:
            if cycle % 2:
                tx_hash = w3.eth.send_transaction(
                    {"from": sender.address, "to": recipient, "value": NATIVE_WEI}
                )
            else:
                tx_hash = token.functions.transfer(recipient, unit).transact({"from": sender.address})
            receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        except Exception as e:  # what a wallet's user would see
            failures.append(f"cycle {cycle}: {e}")
            continue
        seconds.append(time.perf_counter() - started)
        if receipt["status"] != 1:
            failures.append(f"cycle {cycle}: reverted in block {receipt['blockNumber']}")
        lags += _web3_pending_lags(
            w3, token, sender.address, recipient, receipt["blockNumber"], world.pending_is_latest
        )
    seconds.sort()
    print(  # shown with -s, or on failure
        f"web3.py {importlib.metadata.version('web3')} on {world.rpc_url}: {len(seconds)} of {cycles} cycles "
        f"done, {len(failures)} failures; per cycle median {seconds[len(seconds) // 2] * 1000:.1f} ms"
    )
    assert failures == []
    assert lags == []
    assert w3.eth.get_transaction_count(sender.address) == start + cycles
    assert w3.eth.get_balance(recipient) == cycles // 2 * NATIVE_WEI
    assert world.kgst.balance_of(recipient) == cycles // 2 * unit


# ---- Foundry's cast ----------------------------------------------------------------------------------


def _cast_out(*args: str) -> str:
    done = subprocess.run([str(_cast()), *args], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        pytest.fail(f"cast {' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()


def test_cast_sends_calls_and_reads_tags(world: TokenWorld, users: WalletPool) -> None:
    """`cast send` back to back (nonce and fees from the node), `cast call`, `cast block <tag>`."""
    sender = users[CAST_USER]
    world.fund(sender)
    recipient, token = Account.create().address, world.kgst.address
    rpc = ("--rpc-url", world.rpc_url)
    send = ("send", *rpc, "--private-key", _key(sender))
    start = world.chain.nonce(sender.address)
    for _ in range(3):
        _cast_out(*send, token, "transfer(address,uint256)", recipient, str(world.kgst.units(1)))
    _cast_out(*send, recipient, "--value", str(NATIVE_WEI))
    held = _cast_out("call", *rpc, token, "balanceOf(address)(uint256)", recipient)
    assert int(held.split()[0]) == world.kgst.units(3)
    assert int(_cast_out("balance", *rpc, recipient)) == NATIVE_WEI
    assert int(_cast_out("nonce", *rpc, "--block", "pending", sender.address)) == start + 4
    finalized, safe, latest = (
        int(_cast_out("block", tag, "--field", "number", *rpc)) for tag in ("finalized", "safe", "latest")
    )
    assert finalized <= safe <= latest
