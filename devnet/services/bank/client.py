"""Client for the mock bank: answers come back as the models of `api`, the bank's contract.

Request bodies go out as given: the bank judges them, so a refusal comes back as an `ApiError`
naming the field, exactly as any other client would see it.
"""

from __future__ import annotations

from typing import Any

from devnet.core.http import ServiceClient
from devnet.services.bank.api import (
    AccountOut,
    BulkPayment,
    BulkPaymentsIn,
    BulkPaymentsOut,
    Currency,
    CustomerOut,
    KycTier,
    PaymentOut,
    ReserveAccounts,
    Statement,
)


class BankClient(ServiceClient):
    def create_customer(
        self, name: str, kyc_tier: KycTier, country: str = "KG", key: str | None = None
    ) -> CustomerOut:
        body = {"name": name, "kyc_tier": kyc_tier, "country": country}
        return self.post_model(CustomerOut, "/customers", body, key)

    def customer(self, customer_id: str) -> CustomerOut:
        return self.get_model(CustomerOut, f"/customers/{customer_id}")

    def open_account(self, customer_id: str, currency: Currency, key: str | None = None) -> AccountOut:
        return self.post_model(
            AccountOut, "/accounts", {"customer_id": customer_id, "currency": currency}, key
        )

    def account(self, number: str) -> AccountOut:
        return self.get_model(AccountOut, f"/accounts/{number}")

    def balance(self, number: str) -> int:
        return self.account(number).balance

    def statement(self, number: str, after_entry: int = 0) -> Statement:
        return self.get_model(Statement, f"/accounts/{number}/statement", after_entry=after_entry)

    def deposit(self, account: str, amount: int, currency: Currency, key: str | None = None) -> PaymentOut:
        body = {"account": account, "amount": amount, "currency": currency}
        return self.post_model(PaymentOut, "/deposits", body, key)

    def pay(
        self,
        debtor: str,
        creditor: str,
        amount: int,
        currency: Currency,
        *,
        end_to_end_id: str,
        remittance_info: str = "",
        creditor_reference: str | None = None,
        debtor_name: str | None = None,
        creditor_name: str | None = None,
        key: str | None = None,
    ) -> PaymentOut:
        """A credit transfer (pacs.008). `creditor_reference` is the structured reference the
        creditor asked for (RmtInf/Strd/CdtrRefInf/Ref), e.g. the wallet a token purchase mints
        to; `remittance_info` is the free text (RmtInf/Ustrd)."""
        body: dict[str, Any] = {
            "end_to_end_id": end_to_end_id,
            "debtor": {"account": debtor, "name": debtor_name},
            "creditor": {"account": creditor, "name": creditor_name},
            "amount": amount,
            "currency": currency,
            "remittance_info": remittance_info,
        }
        if creditor_reference is not None:
            body["creditor_reference"] = creditor_reference
        return self.post_model(PaymentOut, "/payments", body, key)

    def pay_bulk(self, payments: list[BulkPayment]) -> BulkPaymentsOut:
        """A bulk credit transfer (pain.001): each transfer settles, or is refused, on its own
        (see `BulkPaymentsOut`); each carries its own idempotency key, so sending a bulk again
        never pays a transfer twice."""
        return self.post_model(BulkPaymentsOut, "/payments/bulk", BulkPaymentsIn(payments=payments))

    def payment(self, payment_id: str) -> PaymentOut:
        return self.get_model(PaymentOut, f"/payments/{payment_id}")

    def reserve_accounts(self) -> dict[str, str]:
        """token -> the issuer's reserve account number at this bank."""
        return self.get_model(ReserveAccounts, "/reserve-accounts").root
