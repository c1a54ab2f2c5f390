"""A JSON-RPC request whose connection breaks under it is sent once more, and a transaction sent
twice that way is sent, not refused: against a scripted node over real HTTP that drops a
connection when told to (as a socket closed under a request by httpcore's pool looks)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_account import Account

from devnet.core.chain import Chain
from devnet.core.rpc import Rpc
from devnet.core.wallets import Wallet


class ScriptedNode:
    """Answers from `answers` (method -> result, or a callable of the request count); drops the
    connection, unanswered, for the requests whose method is in `drop` (once each)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.drop: list[str] = []
        self.answers: dict[str, Any] = {}
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as geth and anvil

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                method = request["method"]
                node.seen.append(method)
                if method in node.drop:
                    node.drop.remove(method)
                    self.close_connection = True  # read, never answered
                    return
                answer = node.answers[method]
                result = answer() if callable(answer) else answer
                key = "error" if isinstance(result, dict) and "message" in result else "result"
                body = json.dumps({"jsonrpc": "2.0", "id": request["id"], key: result}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def node() -> Iterator[ScriptedNode]:
    scripted = ScriptedNode()
    yield scripted
    scripted.server.shutdown()
    scripted.server.server_close()


def test_a_request_whose_connection_breaks_is_sent_once_more(node: ScriptedNode) -> None:
    node.answers["eth_blockNumber"] = "0x2a"
    rpc = Rpc(node.url)
    try:
        assert rpc.call("eth_blockNumber") == "0x2a"  # a kept-alive connection first
        node.drop.append("eth_blockNumber")
        assert rpc.call("eth_blockNumber") == "0x2a"
        assert node.seen == ["eth_blockNumber"] * 3
        node.drop += ["eth_blockNumber", "eth_blockNumber"]  # broken twice: the error is the caller's
        with pytest.raises(Exception, match="disconnected"):
            rpc.call("eth_blockNumber")
    finally:
        rpc.close()


def test_a_transaction_resent_after_a_broken_connection_and_mined_meanwhile_is_sent_once(
    node: ScriptedNode,
) -> None:
    """The first send reached the node, its answer was lost, and the block came before the
    second: "nonce too low" then means this very transaction, not another sender's, so the
    wallet is not realigned and nothing is signed again with a new nonce."""
    node.answers.update(
        {
            "eth_getBlockByNumber": {"hash": "0x" + "11" * 32},
            "eth_getTransactionCount": "0x7",
            "eth_sendRawTransaction": {"code": -32000, "message": "nonce too low: next nonce 8, tx nonce 7"},
        }
    )
    wallet = Wallet.of(Account.create())
    chain = Chain(node.url, gas_price=10**9, chain_id=714)
    try:
        signed = chain.sign(wallet, wallet.address, gas=21_000)
        node.answers["eth_getTransactionByHash"] = {"hash": signed.hash_hex}
        node.drop.append("eth_sendRawTransaction")
        assert chain.submit(wallet, signed) == signed.hash_hex
        assert node.seen.count("eth_sendRawTransaction") == 2
        assert "eth_getTransactionByHash" in node.seen
        assert wallet.next_nonce(chain.rpc) == 8  # the counter went on from the sent one
        # Another sender's transaction took the nonce: the node does not have ours, it is refused.
        other = chain.sign(wallet, wallet.address, gas=21_000, nonce=7)
        node.answers["eth_getTransactionByHash"] = None
        with pytest.raises(Exception, match="nonce too low"):
            chain.submit(wallet, other)
    finally:
        chain.close()
