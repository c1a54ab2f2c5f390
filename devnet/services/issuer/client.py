"""Client for the reference issuer: its answers as the models of `devnet.services.issuer.api`.

A record not there (yet) raises `ApiError` with status 404, as every problem answer does.
"""

from __future__ import annotations

from devnet.core.http import ServiceClient
from devnet.services.issuer.api import (
    IssuerInfo,
    MintOut,
    MintRequestAccepted,
    MintStatus,
    RedemptionOut,
    RedemptionStatus,
    TokenReserve,
    UsdkgMintRequestIn,
)


def _filters(status: str | None, limit: int | None) -> dict[str, str | int]:
    """The query of a list: only what is asked (the service's own default limit otherwise)."""
    params: dict[str, str | int] = {}
    if status is not None:
        params["status"] = status
    if limit is not None:
        params["limit"] = limit
    return params


class IssuerClient(ServiceClient):
    # ---- mints -------------------------------------------------------------------------------

    def mints(self, status: MintStatus | None = None, limit: int | None = None) -> list[MintOut]:
        """The newest mints first (at most `limit`, the service's default when None)."""
        return self.get_model(list[MintOut], "/mints", **_filters(status, limit))

    def mint(self, mint_id: int) -> MintOut:
        return self.get_model(MintOut, f"/mints/{mint_id}")

    def mint_by_payment(self, payment_id: str) -> MintOut:
        """The mint a bank payment into a reserve account caused (404 until the issuer booked it)."""
        return self.get_model(MintOut, f"/mints/by-payment/{payment_id}")

    def request_usdkg_mint(
        self, customer_account: str, wallet: str, amount_cents: int, key: str | None = None
    ) -> MintRequestAccepted:
        """An institutional (T3) customer buys USDKG with USD: paid from its account, then minted."""
        body = UsdkgMintRequestIn(customer_account=customer_account, wallet=wallet, amount_cents=amount_cents)
        return self.post_model(MintRequestAccepted, "/usdkg/mint-requests", body, key)

    # ---- redemptions -------------------------------------------------------------------------

    def redemptions(
        self, status: RedemptionStatus | None = None, limit: int | None = None
    ) -> list[RedemptionOut]:
        """The newest redemptions first (at most `limit`, the service's default when None)."""
        return self.get_model(list[RedemptionOut], "/redemptions", **_filters(status, limit))

    def redemptions_by_tx(self, tx_hash: str) -> list[RedemptionOut]:
        """The redemptions one transaction made (usually one); empty until the issuer saw it final."""
        return self.get_model(list[RedemptionOut], f"/redemptions/by-tx/{tx_hash}")

    # ---- reserves and finality ---------------------------------------------------------------

    def reserves(self) -> dict[str, TokenReserve]:
        """Per token: its supply and what its reserve policy allows it to reach."""
        return self.get_model(dict[str, TokenReserve], "/reserves")

    def info(self) -> IssuerInfo:
        return self.get_model(IssuerInfo, "/info")
