"""Mock commercial bank (KGS, ISO 4217 417, and USD): KYC-tiered customers, 16-digit accounts,
real-time settled payments shaped like pacs.008, camt.053 statements, camt.054 webhooks."""

from devnet.services.bank.app import BankSettings, create_app

__all__ = ["BankSettings", "create_app"]
