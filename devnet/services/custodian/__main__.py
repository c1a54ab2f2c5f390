from devnet.services.common.serve import main
from devnet.services.custodian.app import CustodianSettings, create_app

main("custodian", CustodianSettings, create_app)
