"""`devnet chaos`: components killed with SIGKILL and restarted as a supervisor would, under
load, and the world still reconciling afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devnet import world
from harness.accounts import derive_accounts
from harness.chain import Chain
from harness.env import DevnetEnv
from harness.wallets import WalletPool


@pytest.fixture
def chain_only(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "devnet"
    world.up(state, engine="geth")
    try:
        yield state
    finally:
        world.down(state)


def _blocks(chain: Chain, first: int, last: int) -> dict[int, str | None]:
    """Block number -> hash, None for a block the node does not have."""
    return {n: (chain.get_block(n) or {}).get("hash") for n in range(first, last + 1)}


def test_a_killed_geth_node_restarts_at_the_same_head(chain_only: Path) -> None:
    """geth's defaults keep recent state in memory and write asynchronously: killed, it came
    back at genesis, finalized blocks and the deployment gone. Every sealed block survives."""
    env = DevnetEnv.load(chain_only / world.ENV_FILE)
    chain = Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
    wallets = WalletPool(derive_accounts(env.mnemonic, env.free_accounts[0], 3))
    for _ in range(5):
        sent = [chain.send(w, wallets[(i + 1) % 3].address, value=1, gas=21_000) for i, w in enumerate(wallets)]
        for tx in sent:
            chain.wait(tx)
    head = chain.block_number()
    finalized = int(chain.get_block("finalized")["number"], 16)
    before = _blocks(chain, 0, head)
    chain.close()

    world.kill(env, "node")
    assert not world.node_running(env)
    restarted = world.restart(chain_only, "node")

    assert restarted.rpc_url == env.rpc_url
    assert restarted.node.pid != env.node.pid
    chain = Chain(restarted.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
    try:
        assert _blocks(chain, 0, head) == before  # nothing rewound, not even the head
        assert int(chain.get_block("finalized")["number"], 16) >= finalized
        assert chain.code(env.contracts["KGST"])  # the deployment is still there
    finally:
        chain.close()
