"""Mock commercial bank (KGS, ISO 4217 417, and USD): KYC-tiered customers, 16-digit accounts,
real-time settled payments shaped like pacs.008, camt.053 statements, camt.054 webhooks.

The service: `app.create_app(settings)`. What clients and peers use: `client` (a typed HTTP
client) and the models it speaks; importing those does not load the service itself.
"""
