"""Exchange-listing simulator: listing review of a BEP-20 token, per-network config (Binance
capital config), users with deposit addresses from the exchange's own mnemonic, a chain watcher
that credits deposits after minConfirm, unlocks them after unLockConfirm and reverses what reorgs
took away, sweeps to the hot wallet, withdrawals and internal transfers."""

from devnet.services.exchange.app import create_app
from devnet.services.exchange.settings import ExchangeSettings

__all__ = ["ExchangeSettings", "create_app"]
