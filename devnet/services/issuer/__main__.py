from devnet.services.common.serve import main
from devnet.services.issuer.app import IssuerSettings, create_app

main("issuer", IssuerSettings, create_app)
