"""Client for the reference issuer: its answers as the models of `devnet.services.issuer.api`.

A record not there (yet) raises `ApiError` with status 404, as every problem answer does.
"""

from __future__ import annotations

from typing import TypeVar

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


T = TypeVar("T")


class IssuerClient(ServiceClient):
    def _long_poll(self, type_: type[T], path: str, wait: float) -> T:
        """GET `path?wait=<wait>`: the request may take its wait plus the client's usual timeout."""
        if wait <= 0:
            return self.get_model(type_, path)
        return self.get_model_within(wait + self.timeout, type_, path, wait=wait)

    # ---- mints -------------------------------------------------------------------------------

    def mints(self, status: MintStatus | None = None, limit: int | None = None) -> list[MintOut]:
        """The newest mints first (at most `limit`, the service's default when None)."""
        return self.get_model(list[MintOut], "/mints", **_filters(status, limit))

    def mint(self, mint_id: int) -> MintOut:
        return self.get_model(MintOut, f"/mints/{mint_id}")

    def mint_by_payment(self, payment_id: str, wait: float = 0) -> MintOut:
        """The mint a bank payment into a reserve account caused (404 until the issuer booked it).

        `wait` > 0 (at most `MAX_WAIT_S`) makes it a long poll: the issuer answers as soon as the
        mint is settled (`MINT_SETTLED`), else after `wait` seconds with the mint as it is then
        (or the 404)."""
        return self._long_poll(MintOut, f"/mints/by-payment/{payment_id}", wait)

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

    def redemptions_by_tx(self, tx_hash: str, wait: float = 0) -> list[RedemptionOut]:
        """The redemptions one transaction made (usually one); empty until the issuer saw it final.

        `wait` > 0 (at most `MAX_WAIT_S`) makes it a long poll: the issuer answers as soon as the
        transaction has redemptions and none is pending (`REDEMPTION_SETTLED`), else after `wait`
        seconds with what there is then."""
        return self._long_poll(list[RedemptionOut], f"/redemptions/by-tx/{tx_hash}", wait)

    # ---- reserves and finality ---------------------------------------------------------------

    def reserves(self) -> dict[str, TokenReserve]:
        """Per token: its supply and what its reserve policy allows it to reach."""
        return self.get_model(dict[str, TokenReserve], "/reserves")

    def info(self) -> IssuerInfo:
        return self.get_model(IssuerInfo, "/info")
