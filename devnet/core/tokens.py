"""Typed client for one deployed stablecoin: reads, role actions, reserve reports, EIP-712
signatures (permit, EIP-3009) and event decoding."""

from __future__ import annotations

import os
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from devnet.core.chain import Chain, TxResult
from devnet.core.deploy import TokenDeployment
from devnet.core.events import decode_log, topic
from devnet.core.wallets import Wallet


def payout_ref(text: str) -> bytes:
    """A redemption's payout reference (e.g. a 16-digit bank account) as bytes32."""
    raw = text.encode("ascii")
    if not raw or len(raw) > 32:
        raise ValueError("payout reference must be 1 to 32 ASCII characters")
    return raw.ljust(32, b"\0")


def random_nonce() -> bytes:
    """EIP-3009 nonces are random 32-byte values, not a counter."""
    return os.urandom(32)


@dataclass(frozen=True)
class Signature:
    v: int
    r: bytes
    s: bytes


class StableCoinClient:
    def __init__(self, chain: Chain, token: TokenDeployment):
        self.chain = chain
        self.info = token
        self.address = token.address
        self.contract = chain.contract("StableCoin", token.address)
        policy_name = "FiatReservePolicy" if token.backing == "fiat" else "GoldCollateralPolicy"
        self.policy = chain.contract(policy_name, token.policy)
        self.feeds = {role: chain.contract("ReserveFeed", address) for role, address in token.feeds.items()}

    def units(self, whole: int) -> int:
        """Whole tokens -> base units."""
        return self.info.units(whole)

    # ---- reads -------------------------------------------------------------------------------

    def _read(self, fn: str, *args: Any) -> Any:
        return self.chain.call(self.contract, fn, *args)

    def balance_of(self, who: str | Wallet) -> int:
        return int(self._read("balanceOf", _addr(who)))

    def total_supply(self) -> int:
        return int(self._read("totalSupply"))

    def allowance(self, owner: str | Wallet, spender: str | Wallet) -> int:
        return int(self._read("allowance", _addr(owner), _addr(spender)))

    def minter_allowance(self, minter: str | Wallet) -> int:
        return int(self._read("minterAllowance", _addr(minter)))

    def is_blacklisted(self, who: str | Wallet) -> bool:
        return bool(self._read("isBlacklisted", _addr(who)))

    def paused(self) -> bool:
        return bool(self._read("paused"))

    def max_supply(self) -> int:
        """What the reserve policy allows right now (reverts with the policy's reason if stale)."""
        return int(self.chain.call(self.policy, "maxSupply"))

    # ---- observing ---------------------------------------------------------------------------

    def watch_mint(self, to: str | Wallet, amount: int) -> Future[dict[str, Any]]:
        """The `Transfer(0x0, to, amount)` log of a mint, once a block holds it: from the chain
        client's one block follower, no poll of its own. Register it before causing the mint;
        cancel the future to stop waiting."""
        word = _addr(to).lower().removeprefix("0x").rjust(64, "0")
        return self.chain.receipts.watch_log(
            self.address, [topic("Transfer"), "0x" + "0" * 64, "0x" + word], data="0x" + f"{amount:064x}"
        )

    # ---- holder actions ----------------------------------------------------------------------

    def _tx(self, wallet: Wallet, fn: str, *args: Any, gas: int | None = None) -> TxResult:
        return self.chain.transact(wallet, self.contract, fn, *args, gas=gas)

    def transfer(self, sender: Wallet, to: str | Wallet, amount: int, gas: int | None = None) -> TxResult:
        return self._tx(sender, "transfer", _addr(to), amount, gas=gas)

    def approve(self, owner: Wallet, spender: str | Wallet, amount: int) -> TxResult:
        return self._tx(owner, "approve", _addr(spender), amount)

    def transfer_from(self, spender: Wallet, owner: str | Wallet, to: str | Wallet, amount: int) -> TxResult:
        return self._tx(spender, "transferFrom", _addr(owner), _addr(to), amount)

    def redeem(self, holder: Wallet, amount: int, ref: str | bytes, gas: int | None = None) -> TxResult:
        return self._tx(holder, "redeem", amount, payout_ref(ref) if isinstance(ref, str) else ref, gas=gas)

    # ---- role actions ------------------------------------------------------------------------

    def mint(self, minter: Wallet, to: str | Wallet, amount: int, gas: int | None = None) -> TxResult:
        return self._tx(minter, "mint", _addr(to), amount, gas=gas)

    def burn(self, minter: Wallet, amount: int) -> TxResult:
        return self._tx(minter, "burn", amount)

    def configure_minter(self, master_minter: Wallet, minter: str | Wallet, allowance: int) -> TxResult:
        return self._tx(master_minter, "configureMinter", _addr(minter), allowance)

    def remove_minter(self, master_minter: Wallet, minter: str | Wallet) -> TxResult:
        return self._tx(master_minter, "removeMinter", _addr(minter))

    def pause(self, pauser: Wallet) -> TxResult:
        return self._tx(pauser, "pause")

    def unpause(self, pauser: Wallet) -> TxResult:
        return self._tx(pauser, "unpause")

    def blacklist(self, blacklister: Wallet, who: str | Wallet) -> TxResult:
        return self._tx(blacklister, "blacklist", _addr(who))

    def un_blacklist(self, blacklister: Wallet, who: str | Wallet) -> TxResult:
        return self._tx(blacklister, "unBlacklist", _addr(who))

    def destroy_black_funds(self, blacklister: Wallet, who: str | Wallet) -> TxResult:
        return self._tx(blacklister, "destroyBlackFunds", _addr(who))

    def set_transfer_fee(self, owner: Wallet, fee_bps: int, collector: str | Wallet) -> TxResult:
        return self._tx(owner, "setTransferFee", fee_bps, _addr(collector))

    # ---- reserve reports ---------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.chain.get_block("latest")["timestamp"], 16)

    def _report(self, reporter: Wallet, feed: str, answer: int, observed_at: int | None) -> TxResult:
        at = self._now() if observed_at is None else observed_at
        return self.chain.transact(reporter, self.feeds[feed], "report", answer, at)

    def report_reserve(self, reporter: Wallet, minor_units: int, observed_at: int | None = None) -> TxResult:
        """Fiat token: the attested bank reserve, in the currency's minor units (tyiyn)."""
        return self._report(reporter, "reserve", minor_units, observed_at)

    def report_gold(
        self,
        reporter: Wallet,
        *,
        fine_oz_milli: int | None = None,
        price_e8: int | None = None,
        observed_at: int | None = None,
    ) -> None:
        """Gold token: attested fine ounces (x1000) and/or the XAU/USD price (x1e8)."""
        if fine_oz_milli is not None:
            self._report(reporter, "ounces", fine_oz_milli, observed_at)
        if price_e8 is not None:
            self._report(reporter, "price", price_e8, observed_at)

    # ---- EIP-712 signatures ------------------------------------------------------------------

    def _domain(self) -> dict[str, Any]:
        return {
            "name": self.info.name,
            "version": "1",
            "chainId": self.chain.chain_id,
            "verifyingContract": self.address,
        }

    def _sign(
        self, account: LocalAccount, primary: str, fields: list[tuple[str, str]], message: dict[str, Any]
    ) -> Signature:
        types = {primary: [{"name": n, "type": t} for n, t in fields]}
        signed = Account.sign_typed_data(account.key, self._domain(), types, message)
        return Signature(v=signed.v, r=signed.r.to_bytes(32, "big"), s=signed.s.to_bytes(32, "big"))

    def sign_permit(
        self, owner: LocalAccount, spender: str | Wallet, value: int, deadline: int, nonce: int | None = None
    ) -> Signature:
        if nonce is None:
            nonce = int(self._read("nonces", owner.address))
        fields = [
            ("owner", "address"),
            ("spender", "address"),
            ("value", "uint256"),
            ("nonce", "uint256"),
            ("deadline", "uint256"),
        ]
        message = {
            "owner": owner.address,
            "spender": _addr(spender),
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        }
        return self._sign(owner, "Permit", fields, message)

    def permit(
        self, relayer: Wallet, owner: str, spender: str | Wallet, value: int, deadline: int, sig: Signature
    ) -> TxResult:
        return self._tx(relayer, "permit", owner, _addr(spender), value, deadline, sig.v, sig.r, sig.s)

    def sign_authorization(
        self,
        holder: LocalAccount,
        to: str | Wallet,
        value: int,
        valid_after: int,
        valid_before: int,
        nonce: bytes,
        kind: str = "TransferWithAuthorization",
    ) -> Signature:
        """EIP-3009 `TransferWithAuthorization` or `ReceiveWithAuthorization`."""
        fields = [
            ("from", "address"),
            ("to", "address"),
            ("value", "uint256"),
            ("validAfter", "uint256"),
            ("validBefore", "uint256"),
            ("nonce", "bytes32"),
        ]
        message = {
            "from": holder.address,
            "to": _addr(to),
            "value": value,
            "validAfter": valid_after,
            "validBefore": valid_before,
            "nonce": nonce,
        }
        return self._sign(holder, kind, fields, message)

    def sign_cancel(self, authorizer: LocalAccount, nonce: bytes) -> Signature:
        fields = [("authorizer", "address"), ("nonce", "bytes32")]
        return self._sign(
            authorizer, "CancelAuthorization", fields, {"authorizer": authorizer.address, "nonce": nonce}
        )

    def authorization_used(self, authorizer: str | Wallet, nonce: bytes) -> bool:
        return bool(self._read("authorizationState", _addr(authorizer), nonce))

    # ---- events ------------------------------------------------------------------------------

    def events(self, result: TxResult, name: str) -> list[dict[str, Any]]:
        """The arguments of each `name` event this token emitted in a transaction."""
        wanted, address = topic(name), self.address.lower()
        decoded = (
            decode_log(log)
            for log in result.logs
            if log["address"].lower() == address and log["topics"] and log["topics"][0].lower() == wanted
        )  # only the logs with the event's topic are decoded
        return [event.args for event in decoded if event is not None and event.name == name]


def _addr(who: str | Wallet) -> str:
    return who.address if isinstance(who, Wallet) else who
