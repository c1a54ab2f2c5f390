"""Reference issuer (the usual system under test): mints KGST on bank credits and USDKG on
collateralised requests, pays out redemptions, reports reserves on chain.

The service: `app.create_app(settings)`. What clients and peers use: `client` (a typed HTTP
client) and the models it speaks; importing those does not load the service itself.
"""
