from devnet.services.common.serve import main
from devnet.services.exchange.app import create_app
from devnet.services.exchange.settings import ExchangeSettings

main("exchange", ExchangeSettings, create_app)
