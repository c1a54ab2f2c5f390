"""Client for the exchange-listing simulator. Amounts go out as decimal strings (exact for any
size) and balances come back as ints."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from devnet.core.http import ServiceClient

AMOUNT_FIELDS = frozenset(
    {"withdrawFee", "withdrawMin", "withdrawMax", "withdrawIntegerMultiple", "depositDust"}
)


class ExchangeClient(ServiceClient):
    # ---- listing -----------------------------------------------------------------------------

    def review(self, token_address: str, key: str | None = None) -> dict[str, Any]:
        return self.post("/listings/reviews", {"token_address": token_address}, key)  # type: ignore[no-any-return]

    def get_review(self, review_id: str) -> dict[str, Any]:
        return self.get(f"/listings/reviews/{review_id}")  # type: ignore[no-any-return]

    # ---- networks ----------------------------------------------------------------------------

    def networks(self) -> dict[str, dict[str, Any]]:
        """symbol -> network entry (Binance capital config fields, plus status)."""
        return {n["coin"]: n for n in self.get("/networks")["networks"]}

    def network(self, symbol: str) -> dict[str, Any]:
        return self.get(f"/networks/{symbol}")  # type: ignore[no-any-return]

    def update_network(self, symbol: str, **fields: Any) -> dict[str, Any]:
        """camelCase fields, e.g. withdrawFee=10**15, minConfirm=3 (amounts sent as strings)."""
        body = {k: str(v) if k in AMOUNT_FIELDS else v for k, v in fields.items()}
        return self._admin("PUT", f"/admin/networks/{symbol}", body)  # type: ignore[no-any-return]

    def info(self) -> dict[str, Any]:
        return self.get("/info")  # type: ignore[no-any-return]

    # ---- users -------------------------------------------------------------------------------

    def create_user(self, name: str, key: str | None = None) -> str:
        return str(self.post("/users", {"name": name}, key)["id"])

    def user(self, user_id: str) -> dict[str, Any]:
        return self.get(f"/users/{user_id}")  # type: ignore[no-any-return]

    def deposit_address(self, user_id: str, token: str, key: str | None = None) -> str:
        return str(self.post(f"/users/{user_id}/deposit-addresses", {"token": token}, key)["address"])

    def balances(self, user_id: str) -> dict[str, dict[str, int]]:
        """symbol -> {"available", "locked", "pending"} in base units."""
        raw = self.get(f"/users/{user_id}/balances")["balances"]
        return {symbol: {k: int(v) for k, v in b.items()} for symbol, b in raw.items()}

    def balance(self, user_id: str, token: str) -> dict[str, int]:
        return self.balances(user_id)[token]

    def deposits(self, user_id: str) -> list[dict[str, Any]]:
        return self.get(f"/users/{user_id}/deposits")["deposits"]  # type: ignore[no-any-return]

    def deposits_of_tx(self, tx_hash: str) -> list[dict[str, Any]]:
        return self.get("/deposits", tx_hash=tx_hash)["deposits"]  # type: ignore[no-any-return]

    # ---- money out ---------------------------------------------------------------------------

    def withdraw(
        self, user_id: str, token: str, address: str, amount: int, key: str | None = None
    ) -> dict[str, Any]:
        body = {"user_id": user_id, "token": token, "address": address, "amount": str(amount)}
        return self.post("/withdrawals", body, key)  # type: ignore[no-any-return]

    def withdrawal(self, withdrawal_id: str) -> dict[str, Any]:
        return self.get(f"/withdrawals/{withdrawal_id}")  # type: ignore[no-any-return]

    def internal_transfer(
        self, from_user_id: str, to_user_id: str, token: str, amount: int, key: str | None = None
    ) -> dict[str, Any]:
        body = {"from_user_id": from_user_id, "to_user_id": to_user_id, "token": token, "amount": str(amount)}
        return self.post("/internal-transfers", body, key)  # type: ignore[no-any-return]

    def sweep(self, token: str | None = None, key: str | None = None) -> dict[str, Any]:
        """Admin: sweep every deposit address holding tokens to the hot wallet."""
        headers = {"Authorization": f"Bearer {self.admin_token}", "Idempotency-Key": key or str(uuid.uuid4())}
        return self._send("POST", "/admin/sweeps", json={"token": token}, headers=headers)  # type: ignore[no-any-return]

    def rescan(self, from_block: int, key: str | None = None) -> dict[str, Any]:
        """Admin: move the watcher back to `from_block`."""
        headers = {"Authorization": f"Bearer {self.admin_token}", "Idempotency-Key": key or str(uuid.uuid4())}
        return self._send("POST", "/admin/rescan", json={"from_block": from_block}, headers=headers)  # type: ignore[no-any-return]

    def get_sweep(self, sweep_id: str) -> dict[str, Any]:
        return self._admin("GET", f"/admin/sweeps/{sweep_id}")  # type: ignore[no-any-return]

    def reconciliation(self) -> dict[str, Any]:
        """Per token liabilities vs on-chain holdings, and deposits whose ledger is off."""
        return self.get("/reconciliation")  # type: ignore[no-any-return]

    # ---- waiting -----------------------------------------------------------------------------

    def wait_for(self, probe: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
        """Poll `probe` until it returns something truthy; TimeoutError with the last value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = probe()
            if last:
                return last
            time.sleep(interval)
        raise TimeoutError(f"not as expected after {timeout} s; last: {last!r}")

    def wait_withdrawal(self, withdrawal_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """Until it is completed or failed."""
        return self.wait_for(  # type: ignore[no-any-return]
            lambda: (w := self.withdrawal(withdrawal_id))["status"] != "processing" and w, timeout
        )

    def wait_sweep(self, sweep_id: str, timeout: float = 20.0) -> dict[str, Any]:
        return self.wait_for(  # type: ignore[no-any-return]
            lambda: (s := self.get_sweep(sweep_id))["status"] in ("completed", "failed") and s, timeout
        )
