from devnet.services.common.serve import main
from devnet.services.issuer.app import create_app
from devnet.services.issuer.settings import IssuerSettings

main("issuer", IssuerSettings, create_app)
