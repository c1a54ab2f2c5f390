"""Mock gold custodian: vaulted LBMA Good Delivery bars in a weight list, allocation to token
pools, signed attestations of the allocated fine gold, and an XAU/USD price feed.

The service: `app.create_app(settings)`. What clients and peers use: `client` (a typed HTTP
client) and the models it speaks; importing those does not load the service itself.
"""
