"""Client for the exchange-listing simulator: its answers as the models of
`devnet.services.exchange.api` (amounts as `int` base units, timestamps as `datetime`).
Amounts go out as decimal strings (exact for any size)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from devnet.core.http import ServiceClient
from devnet.core.wait import wait_until
from devnet.services.exchange.api import (
    AddressOut,
    Balances,
    DepositAddressIn,
    DepositList,
    DepositOut,
    ExchangeInfo,
    InternalTransferIn,
    NetworkList,
    NetworkOut,
    Reconciliation,
    Rescan,
    RescanIn,
    ReviewIn,
    ReviewOut,
    SweepIn,
    SweepOut,
    SweepsCreated,
    SweepStatus,
    TokenBalance,
    TransferOut,
    UserDeposits,
    UserDetail,
    UserIn,
    UserOut,
    WithdrawalIn,
    WithdrawalOut,
    WithdrawalStatus,
)

T = TypeVar("T")

AMOUNT_FIELDS = frozenset(
    {"withdrawFee", "withdrawMin", "withdrawMax", "withdrawIntegerMultiple", "depositDust"}
)
#: A sweep in one of these is done.
SWEEP_DONE = (SweepStatus.COMPLETED, SweepStatus.FAILED)


class ExchangeClient(ServiceClient):
    # ---- listing -----------------------------------------------------------------------------

    def review(self, token_address: str, key: str | None = None) -> ReviewOut:
        return self.post_model(ReviewOut, "/listings/reviews", ReviewIn(token_address=token_address), key)

    def get_review(self, review_id: str) -> ReviewOut:
        return self.get_model(ReviewOut, f"/listings/reviews/{review_id}")

    # ---- networks ----------------------------------------------------------------------------

    def networks(self) -> dict[str, NetworkOut]:
        """symbol -> network entry (Binance capital config fields, plus status)."""
        return {n.coin: n for n in self.get_model(NetworkList, "/networks").networks}

    def network(self, symbol: str) -> NetworkOut:
        return self.get_model(NetworkOut, f"/networks/{symbol}")

    def update_network(self, symbol: str, **fields: Any) -> NetworkOut:
        """camelCase fields, e.g. withdrawFee=10**15, minConfirm=3 (amounts sent as strings)."""
        body = {k: str(v) if k in AMOUNT_FIELDS else v for k, v in fields.items()}
        return NetworkOut.model_validate(self._admin("PUT", f"/admin/networks/{symbol}", body))

    def info(self) -> ExchangeInfo:
        return self.get_model(ExchangeInfo, "/info")

    # ---- users -------------------------------------------------------------------------------

    def create_user(self, name: str, key: str | None = None) -> str:
        """The new user's id."""
        return self.post_model(UserOut, "/users", UserIn(name=name), key).id

    def user(self, user_id: str) -> UserDetail:
        return self.get_model(UserDetail, f"/users/{user_id}")

    def deposit_address(self, user_id: str, token: str, key: str | None = None) -> str:
        """The user's deposit address for `token` (the same one when asked again)."""
        path = f"/users/{user_id}/deposit-addresses"
        return self.post_model(AddressOut, path, DepositAddressIn(token=token), key).address

    def balances(self, user_id: str) -> dict[str, TokenBalance]:
        """symbol -> available, locked and pending base units."""
        return self.get_model(Balances, f"/users/{user_id}/balances").balances

    def balance(self, user_id: str, token: str) -> TokenBalance:
        return self.balances(user_id)[token]

    def deposits(self, user_id: str) -> list[DepositOut]:
        return self.get_model(UserDeposits, f"/users/{user_id}/deposits").deposits

    def deposits_of_tx(self, tx_hash: str) -> list[DepositOut]:
        return self.get_model(DepositList, "/deposits", tx_hash=tx_hash).deposits

    # ---- money out ---------------------------------------------------------------------------

    def withdraw(
        self, user_id: str, token: str, address: str, amount: int, key: str | None = None
    ) -> WithdrawalOut:
        body = WithdrawalIn(user_id=user_id, token=token, address=address, amount=amount)
        return self.post_model(WithdrawalOut, "/withdrawals", body, key)

    def withdrawal(self, withdrawal_id: str) -> WithdrawalOut:
        return self.get_model(WithdrawalOut, f"/withdrawals/{withdrawal_id}")

    def internal_transfer(
        self, from_user_id: str, to_user_id: str, token: str, amount: int, key: str | None = None
    ) -> TransferOut:
        body = InternalTransferIn(
            from_user_id=from_user_id, to_user_id=to_user_id, token=token, amount=amount
        )
        return self.post_model(TransferOut, "/internal-transfers", body, key)

    def get_internal_transfer(self, transfer_id: str) -> TransferOut:
        return self.get_model(TransferOut, f"/internal-transfers/{transfer_id}")

    def sweep(self, token: str | None = None, key: str | None = None) -> SweepsCreated:
        """Admin: sweep every deposit address holding tokens to the hot wallet."""
        return SweepsCreated.model_validate(self._admin_write("/admin/sweeps", SweepIn(token=token), key))

    def rescan(self, from_block: int, key: str | None = None) -> Rescan:
        """Admin: move the watcher back to `from_block`."""
        return Rescan.model_validate(self._admin_write("/admin/rescan", RescanIn(from_block=from_block), key))

    def get_sweep(self, sweep_id: str) -> SweepOut:
        return SweepOut.model_validate(self._admin("GET", f"/admin/sweeps/{sweep_id}"))

    def reconciliation(self) -> Reconciliation:
        """Per token liabilities vs on-chain holdings, and deposits whose ledger is off."""
        return self.get_model(Reconciliation, "/reconciliation")

    def _admin_write(self, path: str, body: SweepIn | RescanIn, key: str | None) -> Any:
        headers = {"Authorization": f"Bearer {self.admin_token}", "Idempotency-Key": key or str(uuid.uuid4())}
        return self._send("POST", path, json=body.model_dump(mode="json"), headers=headers)

    # ---- waiting -----------------------------------------------------------------------------

    def wait_for(self, probe: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05) -> T:
        """Poll `probe` until it returns something; TimeoutError with the last answer."""
        return wait_until(probe, timeout, "exchange", interval=interval)

    def wait_withdrawal(self, withdrawal_id: str, timeout: float = 20.0) -> WithdrawalOut:
        """Until it is completed or failed."""

        def finished() -> WithdrawalOut | None:
            w = self.withdrawal(withdrawal_id)
            return w if w.status != WithdrawalStatus.PROCESSING else None

        return self.wait_for(finished, timeout)

    def wait_sweep(self, sweep_id: str, timeout: float = 20.0) -> SweepOut:
        """Until it is completed or failed."""

        def finished() -> SweepOut | None:
            s = self.get_sweep(sweep_id)
            return s if s.status in SWEEP_DONE else None

        return self.wait_for(finished, timeout)
