"""Client for the mock bank."""

from __future__ import annotations

from typing import Any

from devnet.core.http import ServiceClient


class BankClient(ServiceClient):
    def create_customer(
        self, name: str, kyc_tier: str, country: str = "KG", key: str | None = None
    ) -> dict[str, Any]:
        return self.post("/customers", {"name": name, "kyc_tier": kyc_tier, "country": country}, key)  # type: ignore[no-any-return]

    def open_account(self, customer_id: str, currency: str, key: str | None = None) -> dict[str, Any]:
        return self.post("/accounts", {"customer_id": customer_id, "currency": currency}, key)  # type: ignore[no-any-return]

    def account(self, number: str) -> dict[str, Any]:
        return self.get(f"/accounts/{number}")  # type: ignore[no-any-return]

    def balance(self, number: str) -> int:
        return int(self.account(number)["balance"])

    def statement(self, number: str, after_entry: int = 0) -> dict[str, Any]:
        return self.get(f"/accounts/{number}/statement", after_entry=after_entry)  # type: ignore[no-any-return]

    def deposit(self, account: str, amount: int, currency: str, key: str | None = None) -> dict[str, Any]:
        return self.post("/deposits", {"account": account, "amount": amount, "currency": currency}, key)  # type: ignore[no-any-return]

    def pay(
        self,
        debtor: str,
        creditor: str,
        amount: int,
        currency: str,
        *,
        end_to_end_id: str,
        remittance_info: str = "",
        debtor_name: str | None = None,
        creditor_name: str | None = None,
        key: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "end_to_end_id": end_to_end_id,
            "debtor": {"account": debtor, "name": debtor_name},
            "creditor": {"account": creditor, "name": creditor_name},
            "amount": amount,
            "currency": currency,
            "remittance_info": remittance_info,
        }
        return self.post("/payments", body, key)  # type: ignore[no-any-return]

    def payment(self, payment_id: str) -> dict[str, Any]:
        return self.get(f"/payments/{payment_id}")  # type: ignore[no-any-return]

    def reserve_accounts(self) -> dict[str, str]:
        return self.get("/reserve-accounts")  # type: ignore[no-any-return]
