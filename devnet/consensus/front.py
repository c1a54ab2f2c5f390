"""The node's public JSON-RPC: geth's own methods forwarded byte for byte, plus what a BSC node
answers that geth does not, and the devnet's control methods.

BSC methods (semantics of bnb-chain/bsc):
- `eth_getFinalizedHeader(verifiedValidatorNum)` / `eth_getFinalizedBlock(n, fullTx)`: the
  block at max(fast-finalized height, highest block sealed under n distinct validators);
  n in [1, validators], or -1 (half + 1), -2 (two thirds, rounded up), -3 (all). The devnet
  has one sealer, so the validator rotation is a model: `validators` take turns of
  `turn_length` consecutive blocks, as Parlia schedules them.
- `eth_getTransactionsByBlockNumber(tag)`, `eth_getTransactionReceiptsByBlockNumber(tag)`.
- `eth_getHeaderByNumber` / `eth_getHeaderByHash` are geth's own and simply forwarded.

Devnet methods: `devnet_mine(blocks)`, `devnet_reorg({depth, keep, extraBlocks})`,
`devnet_finality()`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from devnet.consensus.beacon import Beacon, ReorgRefused
from devnet.consensus.engine_api import EngineError

SENDS = frozenset({"eth_sendRawTransaction", "eth_sendTransaction"})
#: A cheap look at the raw body: most requests are none of ours and go through untouched.
_MAYBE_OURS = re.compile(
    rb'"(eth_sendRawTransaction|eth_sendTransaction|eth_getFinalizedHeader|eth_getFinalizedBlock'
    rb'|eth_getTransactionsByBlockNumber|eth_getTransactionReceiptsByBlockNumber|devnet_\w+)"'
)
INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, SERVER_ERROR = -32602, -32600, -32700, -32000


class RpcProblem(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ValidatorRotation:
    """Parlia's schedule as a model: `validators` seal `turn_length` blocks each, in turn."""

    validators: int = 21
    turn_length: int = 16

    def resolve(self, verified: Any) -> int:
        """BSC's `verifiedValidatorNum`: 1..validators, or -1/-2/-3 for half+1/two thirds/all."""
        if not isinstance(verified, int) or isinstance(verified, bool):
            raise RpcProblem(INVALID_PARAMS, f"verifiedValidatorNum must be an integer, got {verified!r}")
        shorthand = {
            -1: self.validators // 2 + 1,
            -2: math.ceil(self.validators * 2 / 3),
            -3: self.validators,
        }
        if verified in shorthand:
            return shorthand[verified]
        if not 1 <= verified <= self.validators:
            raise RpcProblem(
                INVALID_PARAMS, f"verifiedValidatorNum {verified} is out of range [1,{self.validators}]"
            )
        return verified

    def sealed_under(self, head: int, validators: int) -> int:
        """Highest block h such that blocks h..head were sealed by `validators` distinct ones."""
        if validators <= 1:
            return head
        turn = head // self.turn_length
        return max(0, (turn - (validators - 1)) * self.turn_length + self.turn_length - 1)


Handler = Callable[[list[Any]], Awaitable[Any]]


class Front:
    def __init__(
        self, beacon: Beacon, geth_url: str, session: aiohttp.ClientSession, rotation: ValidatorRotation
    ):
        self.beacon = beacon
        self.geth_url = geth_url
        self.session = session
        self.rotation = rotation
        self.methods: dict[str, Handler] = {
            "eth_getFinalizedHeader": self.get_finalized_header,
            "eth_getFinalizedBlock": self.get_finalized_block,
            "eth_getTransactionsByBlockNumber": self.get_transactions_by_block_number,
            "eth_getTransactionReceiptsByBlockNumber": self.get_receipts_by_block_number,
            "devnet_mine": self.mine,
            "devnet_reorg": self.reorg,
            "devnet_finality": self.finality,
        }

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_post("/", self.handle)
        return app

    # ---- transport ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not _MAYBE_OURS.search(body):
            return await self._forward(body)
        try:
            message = json.loads(body)
        except ValueError:
            return _json(_error(None, PARSE_ERROR, "parse error"))
        calls = message if isinstance(message, list) else [message]
        methods = [c.get("method") if isinstance(c, dict) else None for c in calls]
        if not any(m in self.methods for m in methods):
            response = await self._forward(body)
            if any(m in SENDS for m in methods):
                self.beacon.wake()
            return response
        answers = [await self._one(call) for call in calls]
        if any(m in SENDS for m in methods):
            self.beacon.wake()
        return _json(answers if isinstance(message, list) else answers[0])

    async def _forward(self, body: bytes) -> web.Response:
        async with self.session.post(
            self.geth_url, data=body, headers={"Content-Type": "application/json"}
        ) as upstream:
            return web.Response(
                body=await upstream.read(), status=upstream.status, content_type="application/json"
            )

    async def _one(self, call: Any) -> dict[str, Any]:
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return _error(None, INVALID_REQUEST, "invalid request")
        handler = self.methods.get(call["method"])
        if handler is None:
            async with self.session.post(self.geth_url, json=call) as upstream:
                answer: dict[str, Any] = await upstream.json()
                return answer
        params = call.get("params") or []
        try:
            result = await handler(params if isinstance(params, list) else [params])
        except RpcProblem as e:
            return _error(call.get("id"), e.code, e.message)
        except ReorgRefused as e:
            return _error(call.get("id"), INVALID_PARAMS, str(e))
        except EngineError as e:
            return _error(call.get("id"), SERVER_ERROR, str(e))
        return {"jsonrpc": "2.0", "id": call.get("id"), "result": result}

    async def _geth(self, method: str, *params: Any) -> Any:
        return await self.beacon.eth.call(method, *params)

    # ---- BSC methods ----------------------------------------------------------------------------

    def _finalized_height(self, params: list[Any]) -> int:
        if not params:
            raise RpcProblem(INVALID_PARAMS, "missing value for required argument 0 (verifiedValidatorNum)")
        validators = self.rotation.resolve(params[0])
        _, fast_finalized = self.beacon.tags()
        return max(fast_finalized, self.rotation.sealed_under(self.beacon.head.number, validators))

    async def get_finalized_header(self, params: list[Any]) -> Any:
        return await self._geth("eth_getHeaderByNumber", hex(self._finalized_height(params)))

    async def get_finalized_block(self, params: list[Any]) -> Any:
        full = bool(params[1]) if len(params) > 1 else False
        return await self._geth("eth_getBlockByNumber", hex(self._finalized_height(params)), full)

    async def get_transactions_by_block_number(self, params: list[Any]) -> Any:
        block = await self._geth("eth_getBlockByNumber", _block_tag(params), True)
        return None if block is None else block["transactions"]

    async def get_receipts_by_block_number(self, params: list[Any]) -> Any:
        return await self._geth("eth_getBlockReceipts", _block_tag(params))

    # ---- devnet methods -------------------------------------------------------------------------

    async def mine(self, params: list[Any]) -> Any:
        blocks = _quantity(params[0], "blocks") if params else 1
        if not 1 <= blocks <= 10_000:
            raise RpcProblem(INVALID_PARAMS, f"blocks must be within [1,10000], got {blocks}")
        return (await self.beacon.mine(blocks)).json()

    async def reorg(self, params: list[Any]) -> Any:
        options = params[0] if params else None
        if not isinstance(options, dict) or "depth" not in options:
            raise RpcProblem(INVALID_PARAMS, "expected {depth, keep?, extraBlocks?}")
        keep = options.get("keep", "none")
        if not (
            keep in ("all", "none") or (isinstance(keep, list) and all(isinstance(k, str) for k in keep))
        ):
            raise RpcProblem(INVALID_PARAMS, 'keep must be "all", "none" or a list of transaction hashes')
        return await self.beacon.reorg(
            _quantity(options["depth"], "depth"),
            keep,
            _quantity(options.get("extraBlocks", 0), "extraBlocks"),
        )

    async def finality(self, _params: list[Any]) -> Any:
        return self.beacon.status()


def _block_tag(params: list[Any]) -> Any:
    if not params:
        raise RpcProblem(INVALID_PARAMS, "missing value for required argument 0 (block number)")
    return params[0]


def _quantity(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.startswith("0x") else int(value)
        except ValueError:
            pass
    raise RpcProblem(INVALID_PARAMS, f"{name} must be an integer or hex quantity, got {value!r}")


def _error(call_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "error": {"code": code, "message": message}}


def _json(payload: Any) -> web.Response:
    return web.Response(text=json.dumps(payload), content_type="application/json")
