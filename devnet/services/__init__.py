"""The off-chain world: mock bank, gold custodian, reference issuer, exchange-listing simulator.

Each service is a FastAPI app built by `create_app(settings)` in its own folder, runnable as
`python -m devnet.services.<name>`; `common/` holds what they share.
"""
