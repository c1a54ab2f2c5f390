"""Mock gold custodian: vaulted LBMA Good Delivery bars in a weight list, allocation to token
pools, signed attestations of the allocated fine gold, and an XAU/USD price feed."""

from devnet.services.custodian.app import CustodianSettings, create_app

__all__ = ["CustodianSettings", "create_app"]
