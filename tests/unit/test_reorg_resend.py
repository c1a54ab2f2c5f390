"""A reorg's kept transactions are sent again after geth rewinds its head: a txpool that has not
yet taken in the rewound head refuses them as "nonce too low" (seen in CI) and is waited for."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from devnet.consensus.beacon import send_again
from devnet.consensus.engine_api import EngineError, RpcClient


class LaggingPool:
    """A txpool that checks nonces against the old head's state for its first `stale` sends, then
    against the rewound head's; it holds what it took (a second send is "already known")."""

    def __init__(self, stale: int, held: tuple[str, ...] = ()) -> None:
        self.stale = stale
        self.pool: list[str] = list(held)
        self.calls = 0

    async def call(self, method: str, *params: Any) -> Any:
        assert method == "eth_sendRawTransaction"
        self.calls += 1
        raw = params[0]
        if self.calls <= self.stale:
            raise EngineError("eth_sendRawTransaction: nonce too low: next nonce 1, tx nonce 0 (-32000)")
        if raw in self.pool:
            raise EngineError("eth_sendRawTransaction: already known (-32000)")
        self.pool.append(raw)
        return "0x" + raw[2:].rjust(64, "0")


def _send(pool: LaggingPool, raws: list[str], wait_s: float = 5.0) -> None:
    asyncio.run(send_again(cast(RpcClient, pool), raws, wait_s))


def test_a_pool_still_on_the_old_head_is_waited_for_and_every_kept_transaction_goes_in_in_order() -> None:
    pool = LaggingPool(stale=3)
    _send(pool, ["0xa1", "0xb2"])
    assert pool.pool == ["0xa1", "0xb2"]
    assert pool.calls == 5  # three refusals, then each once


def test_a_transaction_the_pool_put_back_itself_is_not_an_error() -> None:
    pool = LaggingPool(stale=0, held=("0xa1",))
    _send(pool, ["0xa1", "0xb2"])
    assert pool.pool == ["0xa1", "0xb2"]


def test_a_pool_that_never_catches_up_fails_the_reorg_with_its_answer() -> None:
    pool = LaggingPool(stale=10**9)
    with pytest.raises(EngineError, match="nonce too low"):
        _send(pool, ["0xa1"], wait_s=0.1)


def test_any_other_refusal_fails_at_once() -> None:
    class Refusing(LaggingPool):
        async def call(self, method: str, *params: Any) -> Any:
            self.calls += 1
            raise EngineError("eth_sendRawTransaction: insufficient funds for gas * price + value (-32000)")

    pool = Refusing(stale=0)
    with pytest.raises(EngineError, match="insufficient funds"):
        _send(pool, ["0xa1", "0xb2"])
    assert pool.calls == 1
