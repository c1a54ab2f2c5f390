"""Reference issuer (the usual system under test): mints KGST on bank credits and USDKG on
collateralised requests, pays out redemptions, reports reserves on chain."""

from devnet.services.issuer.app import IssuerSettings, create_app

__all__ = ["IssuerSettings", "create_app"]
