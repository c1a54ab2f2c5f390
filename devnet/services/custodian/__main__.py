from devnet.services.common.serve import main
from devnet.services.custodian.app import create_app
from devnet.services.custodian.settings import CustodianSettings

main("custodian", CustodianSettings, create_app)
