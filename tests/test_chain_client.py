"""The chain client: fast signing, nonce management under parallel senders, receipt waiting,
idempotent deployment, bytecode verification."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from devnet.core.accounts import RoleKeys
from devnet.core.artifacts import runtime_matches
from devnet.core.chain import Chain
from devnet.core.deploy import Deployment, deploy_suite, load_deployment
from devnet.core.rpc import TX_INDEXING, Rpc, RpcError
from devnet.core.signing import create_address
from devnet.core.wallets import WalletPool


def test_create_address_matches_the_node(chain: Chain, lane_roles: RoleKeys) -> None:
    deployer = lane_roles.deployer.address
    predicted = create_address(deployer, chain.nonce(deployer, "pending"))
    deployment = deploy_suite(chain, lane_roles)
    assert deployment.tokens["KGST"].feeds["reserve"] == predicted


def test_parallel_senders_never_clash_on_nonces(chain: Chain, users: WalletPool) -> None:
    """16 threads share 4 wallets; every transaction lands and nonces stay contiguous."""
    wallets = WalletPool(users.wallets[10:14])
    start = {w.address: chain.nonce(w.address, "pending") for w in wallets}

    def send(i: int) -> str:
        w = wallets.next()
        return chain.send(w, w.address, value=i, gas=21_000)

    with ThreadPoolExecutor(16) as pool:
        hashes = list(pool.map(send, range(200)))
    receipts = chain.receipts.wait_all(hashes)
    assert all(r["status"] == "0x1" for r in receipts)
    for w in wallets:
        assert chain.nonce(w.address) == start[w.address] + 50


def test_lanes_are_disjoint_and_cover_equal_shares(users: WalletPool) -> None:
    lanes = [users.lane(i, 3) for i in range(3)]
    addresses = [w.address for lane in lanes for w in lane]
    assert len(addresses) == len(set(addresses)) == 3 * (len(users) // 3)
    with pytest.raises(ValueError):
        users.lane(3, 3)


def test_deployment_is_idempotent(chain: Chain, lane_roles: RoleKeys, tmp_path: Path) -> None:
    record = tmp_path / "deployment.json"
    first = deploy_suite(chain, lane_roles, record=record)
    nonce = chain.nonce(lane_roles.deployer.address, "pending")
    again = deploy_suite(chain, lane_roles, record=record)
    assert again == first
    assert chain.nonce(lane_roles.deployer.address, "pending") == nonce  # nothing was sent
    # A record from another chain is not trusted: it deploys afresh.
    record.write_text(first.model_copy(update={"genesis_hash": "0x" + "00" * 32}).model_dump_json())
    assert load_deployment(chain, record) is None
    third = deploy_suite(chain, lane_roles, record=record)
    assert third.tokens["KGST"].address != first.tokens["KGST"].address


def test_deployed_runtime_matches_the_committed_artifact(chain: Chain, deployment: Deployment) -> None:
    kgst = deployment.tokens["KGST"]
    assert runtime_matches(chain.code(kgst.address), "StableCoin")
    assert runtime_matches(chain.code(deployment.tokens["USDKG"].address), "StableCoin")
    assert runtime_matches(chain.code(kgst.policy), "FiatReservePolicy")
    assert not runtime_matches(chain.code(kgst.feeds["reserve"]), "StableCoin")
    assert not runtime_matches(b"", "StableCoin")


def test_a_receipt_lookup_reads_geths_indexing_answer_as_not_mined_yet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """geth answers an unknown transaction with an error while its indexer catches up with a
    new head; waiting for a receipt must not fail on it (found by the resume test)."""
    rpc = Rpc("http://127.0.0.1:9")  # never called: `call` is replaced
    answers: list[Exception] = [
        RpcError("eth_getTransactionReceipt", {"code": -32000, "message": TX_INDEXING}),
        RpcError("eth_getTransactionReceipt", {"code": -32000, "message": "boom"}),
    ]

    def call(method: str, *params: Any) -> Any:
        raise answers.pop(0)

    monkeypatch.setattr(rpc, "call", call)
    assert rpc.receipt("0x" + "ab" * 32) is None
    with pytest.raises(RpcError, match="boom"):
        rpc.receipt("0x" + "ab" * 32)
