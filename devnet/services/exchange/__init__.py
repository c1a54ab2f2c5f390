"""Exchange-listing simulator: listing review of a BEP-20 token, per-network config (Binance
capital config), users with deposit addresses from the exchange's own mnemonic, a chain watcher
that credits deposits after minConfirm, unlocks them after unLockConfirm and reverses what reorgs
took away, sweeps to the hot wallet, withdrawals and internal transfers.

The service: `app.create_app(settings)`. What clients and peers use: `client` (a typed HTTP
client) and the models it speaks; importing those does not load the service itself.
"""
