"""Typed HTTP clients for the devnet's services."""

from harness.clients.base import ApiError, ServiceClient

__all__ = ["ApiError", "ServiceClient"]
