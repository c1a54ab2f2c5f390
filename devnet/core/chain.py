"""Chain client: contract bindings from the committed artifacts, sending with local nonces and
fast signing, receipts from the block poller, and reverts surfaced with their reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_utils import function_signature_to_4byte_selector, is_checksum_address, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.contract import Contract

from devnet.core.artifacts import custom_errors, load_artifact
from devnet.core.receipts import ReceiptWaiter
from devnet.core.rpc import Rpc, RpcError
from devnet.core.signing import SignedTx
from devnet.core.wallets import Wallet

_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")


#: One read for `Chain.call_many`: (contract, function name, arguments).
ContractCall = tuple[Contract, str, tuple[Any, ...]]


def _output_types(contract: Contract, fn: str) -> list[str]:
    abi = contract.get_function_by_name(fn).abi
    return [_abi_type(o) for o in abi.get("outputs", [])]


def _encoder(contract: Contract, fn: str) -> tuple[bytes, list[str]] | None:
    """`fn`'s selector and input types, or None when the name is overloaded (or unknown)."""
    entries: list[dict[str, Any]] = [
        dict(e) for e in contract.abi if e.get("type") == "function" and e.get("name") == fn
    ]
    if len(entries) != 1:
        return None
    types = [_abi_type(i) for i in entries[0].get("inputs", [])]
    return function_signature_to_4byte_selector(f"{fn}({','.join(types)})"), types


def _web3_takes(abi_type: str, value: Any) -> bool:
    """False for an address web3 refuses and eth_abi would take: mixed case with a wrong
    checksum (a typo that the checksum exists to catch)."""
    if "address" not in abi_type:
        return True
    if abi_type.endswith("[]"):
        return isinstance(value, list | tuple) and all(_web3_takes(abi_type[:-2], v) for v in value)
    if isinstance(value, str) and value[2:] not in (value[2:].lower(), value[2:].upper()):
        return is_checksum_address(value)
    return True


def _abi_type(param: Any) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][len('tuple') :]}"
    return str(param["type"])


def _as_web3(abi_type: str, value: Any) -> Any:
    """A decoded value as web3's contract calls answer it: addresses checksummed."""
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "address[]":
        return [to_checksum_address(v) for v in value]
    return value


class Reverted(RuntimeError):
    """A transaction or call reverted; `reason` is the revert string or the decoded custom error."""

    def __init__(self, reason: str, tx_hash: str | None = None):
        self.reason = reason
        self.tx_hash = tx_hash
        # str() is the bare reason, so callers can match it exactly.
        super().__init__(reason)

    def __repr__(self) -> str:
        return f"Reverted({self.reason!r}, tx_hash={self.tx_hash!r})"


def decode_revert(data: str | bytes | None) -> str:
    """Human-readable revert reason from revert data (Error(string), Panic or a custom error)."""
    if data is None:
        return "(no reason)"
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    if raw.startswith(_ERROR_STRING):
        return str(abi_decode(["string"], raw[4:])[0])
    if raw.startswith(_PANIC):
        return f"Panic(0x{abi_decode(['uint256'], raw[4:])[0]:02x})"
    entry = custom_errors().get(raw[:4])
    if entry is None:
        return "(no reason)" if not raw else f"unknown error 0x{raw.hex()}"
    types = [i["type"] for i in entry["inputs"]]
    values = abi_decode(types, raw[4:])
    shown = ", ".join(v.hex() if isinstance(v, bytes) else str(v) for v in values)
    return f"{entry['name']}({shown})"


def error_revert_reason(err: RpcError) -> str | None:
    """The revert reason a node's JSON-RPC error carries (revert data, decoded; or the message
    of an "execution reverted"), or None when the error is not a revert."""
    data = err.data
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) > 2:
        return decode_revert(data)
    if "revert" in err.message:
        return (
            err.message.removeprefix("execution reverted: ").removeprefix("execution reverted")
            or "(no reason)"
        )
    return None


def _reverted_from(err: RpcError, tx_hash: str | None = None) -> Reverted | None:
    reason = error_revert_reason(err)
    return None if reason is None else Reverted(reason, tx_hash)


@dataclass(frozen=True)
class TxResult:
    tx_hash: str
    receipt: dict[str, Any]

    @property
    def block_number(self) -> int:
        return int(self.receipt["blockNumber"], 16)

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"], 16)

    @property
    def logs(self) -> list[dict[str, Any]]:
        logs: list[dict[str, Any]] = self.receipt["logs"]
        return logs


class Chain:
    def __init__(self, rpc_url: str, *, gas_price: int | None = None, chain_id: int | None = None):
        self.rpc_url = rpc_url
        self.rpc = Rpc(rpc_url)
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self.chain_id = chain_id or int(self.rpc.call("eth_chainId"), 16)
        self.gas_price = gas_price or int(self.rpc.call("eth_gasPrice"), 16)
        # Its own few connections: it asks for the head tens of times a second under load, and
        # on the shared pool each of those requests scanned every idle connection (a quarter
        # of a Locust process's CPU in a profile).
        self._follower_rpc = Rpc(rpc_url, connections=4)
        self.receipts = ReceiptWaiter(self._follower_rpc)
        self._chain_noted = False
        #: (id of a contract, function) -> (the contract, kept so its id stays its own; its
        #: selector and input types, or None for an overloaded function)
        self._encoders: dict[tuple[int, str], tuple[Contract, tuple[bytes, list[str]] | None]] = {}

    def close(self) -> None:
        self.receipts.close()
        self._follower_rpc.close()
        self.rpc.close()

    # ---- bindings ----------------------------------------------------------------------------

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(name)["abi"])

    def encode_call(self, contract: Contract, fn: str, *args: Any) -> bytes:
        """The calldata of `fn(*args)`: the function's selector and eth_abi's encoding of the
        arguments, the ABI looked up once per contract and function (web3's `encode_abi` looks
        it up and validates each time: 13% of the issuer's CPU under load). An overloaded
        function, or arguments eth_abi does not take as they are, go through web3 itself;
        `tests/unit/test_encode_call.py` checks both ways agree."""
        key = (id(contract), fn)
        plan = self._encoders.get(key)
        if plan is None:
            plan = self._encoders[key] = (contract, _encoder(contract, fn))
        encoder = plan[1]
        if encoder is not None:
            selector, types = encoder
            try:
                if all(_web3_takes(t, a) for t, a in zip(types, args, strict=True)):
                    return selector + abi_encode(types, args)
            except (TypeError, ValueError, OverflowError, EncodingError):
                pass  # web3 converts, or raises its own clear error
        return bytes.fromhex(contract.encode_abi(fn, args=list(args)).removeprefix("0x"))

    def encode_deploy(self, name: str, *args: Any) -> bytes:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        return bytes.fromhex(factory.constructor(*args).data_in_transaction.removeprefix("0x"))

    # ---- reads -------------------------------------------------------------------------------

    def block_number(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def get_block(self, tag: str | int = "latest", full: bool = False) -> dict[str, Any]:
        block: dict[str, Any] = self.rpc.call(
            "eth_getBlockByNumber", tag if isinstance(tag, str) else hex(tag), full
        )
        return block

    def code(self, address: str) -> bytes:
        return bytes.fromhex(self.rpc.call("eth_getCode", address, "latest").removeprefix("0x"))

    def nonce(self, address: str, tag: str = "latest") -> int:
        return int(self.rpc.call("eth_getTransactionCount", address, tag), 16)

    def balance(self, address: str) -> int:
        return int(self.rpc.call("eth_getBalance", address, "latest"), 16)

    # ---- writes ------------------------------------------------------------------------------

    def estimate_gas(self, sender: str, to: str | None, data: bytes, value: int = 0) -> int:
        tx: dict[str, Any] = {"from": sender, "data": "0x" + data.hex(), "value": hex(value)}
        if to:
            tx["to"] = to
        try:
            gas = int(self.rpc.call("eth_estimateGas", tx), 16)
        except RpcError as e:
            reverted = _reverted_from(e)
            raise reverted or e from e
        # Headroom for state that changes between estimate and inclusion (e.g. a new holder slot).
        return gas * 5 // 4 + 10_000

    def sign(
        self,
        wallet: Wallet,
        to: str | None,
        data: bytes = b"",
        *,
        value: int = 0,
        gas: int,
        nonce: int | None = None,
        gas_price: int | None = None,
    ) -> SignedTx:
        """A legacy transaction; a `gas_price` above the default buys priority within a block."""
        if not self._chain_noted:  # before this client's first nonce
            block_one = self.rpc.call("eth_getBlockByNumber", "0x1", False)
            Wallet.see_node(self.rpc_url, block_one["hash"] if block_one else None)
            self._chain_noted = True
        return wallet.signer.sign(
            nonce=wallet.next_nonce(self.rpc) if nonce is None else nonce,
            gas_price=gas_price or self.gas_price,
            gas=gas,
            to=bytes.fromhex(to.removeprefix("0x")) if to else None,
            value=value,
            data=data,
            chain_id=self.chain_id,
        )

    def send(
        self,
        wallet: Wallet,
        to: str | None,
        data: bytes = b"",
        *,
        value: int = 0,
        gas: int | None = None,
        gas_price: int | None = None,
        expect: bool = False,
    ) -> str:
        """Sign and submit; returns the tx hash. Reverts found by gas estimation raise Reverted.
        `expect`: the caller will `wait` for it (its receipt is then awaited from the start)."""
        if gas is None:
            gas = self.estimate_gas(wallet.address, to, data, value)
        for attempt in (1, 2):
            signed = self.sign(wallet, to, data, value=value, gas=gas, gas_price=gas_price)
            if expect:  # awaited before it is sent, so `wait` needs no lookup of its own
                self.receipts.expect(signed.hash_hex)
            try:
                return self.submit(wallet, signed)
            except BaseException as e:
                self.receipts.forget(signed.hash_hex)
                if not isinstance(e, RpcError):
                    raise
                # Someone else sent from this key (another process): one retry with the node's nonce.
                if attempt == 2 or "nonce too low" not in e.message:
                    raise
        raise AssertionError("unreachable")

    def submit(self, wallet: Wallet, signed: SignedTx) -> str:
        """Submit a transaction signed with `sign` (its hash is known before it is sent)."""
        try:
            self.rpc.call("eth_sendRawTransaction", signed.raw_hex)
        except RpcError as e:
            if "already known" in e.message:
                return signed.hash_hex
            # A send repeated after its connection broke (`rpc.RETRY_ON`) finds its own
            # transaction mined meanwhile: it was sent, not refused.
            if "nonce too low" in e.message and self.known(signed.hash_hex):
                return signed.hash_hex
            # The local nonce was spent on a transaction the node refused: realign with the node.
            wallet.resync(self.rpc)
            raise
        return signed.hash_hex

    def known(self, tx_hash: str) -> bool:
        """Whether the node has this transaction (pending or included)."""
        return self.rpc.call("eth_getTransactionByHash", tx_hash) is not None

    def send_raw_batch(self, signed: Sequence[SignedTx]) -> list[str | RpcError]:
        results = self.rpc.batch([("eth_sendRawTransaction", [s.raw_hex]) for s in signed])
        return [r if isinstance(r, RpcError) else str(r) for r in results]

    def wait(self, tx_hash: str, timeout: float = 60.0) -> TxResult:
        receipt = self.receipts.wait(tx_hash, timeout)
        result = TxResult(tx_hash, receipt)
        if receipt["status"] != "0x1":
            raise Reverted(self.revert_reason(tx_hash, receipt), tx_hash)
        return result

    def transact(
        self, wallet: Wallet, contract: Contract, fn: str, *args: Any, gas: int | None = None, value: int = 0
    ) -> TxResult:
        """Call `fn(*args)` on `contract` from `wallet` and wait for inclusion."""
        data = self.encode_call(contract, fn, *args)
        return self.wait(self.send(wallet, contract.address, data, value=value, gas=gas, expect=True))

    def deploy(self, wallet: Wallet, name: str, *args: Any) -> str:
        result = self.wait(self.send(wallet, None, self.encode_deploy(name, *args), expect=True))
        return to_checksum_address(result.receipt["contractAddress"])

    def call(self, contract: Contract, fn: str, *args: Any, sender: str | None = None) -> Any:
        """eth_call with reverts surfaced as Reverted(reason)."""
        try:
            return getattr(contract.functions, fn)(*args).call({"from": sender} if sender else {})
        except Exception as e:
            data = getattr(e, "data", None)
            if isinstance(data, str) and data.startswith("0x"):
                raise Reverted(decode_revert(data)) from e
            if "revert" in str(e):
                raise Reverted(str(e).split("execution reverted: ", 1)[-1].strip("'\"() ")) from e
            raise

    def call_many(self, calls: Sequence[ContractCall], block: str = "latest") -> list[Any]:
        """Many `eth_call`s at one block in one JSON-RPC batch (one HTTP round trip, no web3
        middleware): each result decoded as `call` decodes it (a single output as its value,
        several as a tuple), or a `Reverted` in its place (returned, not raised). Other node
        errors raise. Equivalent to `call` for each (a test checks it against web3)."""
        requests: list[tuple[str, list[Any]]] = []
        outputs: list[list[str]] = []
        for contract, fn, args in calls:
            data = "0x" + self.encode_call(contract, fn, *args).hex()
            requests.append(("eth_call", [{"to": contract.address, "data": data}, block]))
            outputs.append(_output_types(contract, fn))
        results: list[Any] = []
        for (_, fn, _), types, answer in zip(calls, outputs, self.rpc.batch(requests), strict=True):
            if isinstance(answer, RpcError):
                reason = error_revert_reason(answer)
                if reason is None:
                    raise answer
                results.append(Reverted(reason))
                continue
            raw = bytes.fromhex(str(answer).removeprefix("0x"))
            if not raw and types:
                results.append(Reverted(f"{fn}: empty answer (no contract at the address?)"))
                continue
            values = [_as_web3(t, v) for t, v in zip(types, abi_decode(types, raw), strict=True)]
            results.append(values[0] if len(values) == 1 else tuple(values))
        return results

    def revert_reason(self, tx_hash: str, receipt: dict[str, Any]) -> str:
        """Why a mined transaction reverted: replayed with eth_call on its parent block; when it
        would succeed there (a transaction before it in its block made it revert), from the
        node's trace of it where it ran (`debug_traceTransaction` with geth's callTracer)."""
        tx = self.rpc.call("eth_getTransactionByHash", tx_hash)
        if tx is None:  # reorganised away since its receipt was read
            return "(reverted)"
        call = {
            "from": tx["from"],
            "to": tx["to"],
            "data": tx["input"],
            "value": tx["value"],
            "gas": tx["gas"],
        }
        parent = hex(int(receipt["blockNumber"], 16) - 1)
        try:
            self.rpc.call("eth_call", call, parent)
        except RpcError as e:
            reverted = _reverted_from(e)
            if reverted:
                return reverted.reason
            return e.message
        try:
            trace = self.rpc.call("debug_traceTransaction", tx_hash, {"tracer": "callTracer"})
        except RpcError:
            trace = None
        if isinstance(trace, dict):
            output = trace.get("output")
            if isinstance(output, str) and len(output) > 2:
                return decode_revert(output)
            if trace.get("revertReason") or trace.get("error"):
                return str(trace.get("revertReason") or trace["error"])
        return "(reverted in block; not reproducible on the parent state)"
