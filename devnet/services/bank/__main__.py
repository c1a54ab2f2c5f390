from devnet.services.bank.app import create_app
from devnet.services.bank.settings import BankSettings
from devnet.services.common.serve import main

main("bank", BankSettings, create_app)
