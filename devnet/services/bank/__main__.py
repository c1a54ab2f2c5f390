from devnet.services.bank.app import BankSettings, create_app
from devnet.services.common.serve import main

main("bank", BankSettings, create_app)
