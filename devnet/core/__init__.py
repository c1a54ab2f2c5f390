"""The neutral core: what both the world (the devnet's node and services) and the driver (the
harness, the load tests) are built on, and which depends on neither of them.

JSON-RPC, signing, accounts and wallets, contract artifacts, bindings and events, the chain
client, deployment, the env.json schema, money and units, the webhook signing protocol, the
custodian's attestation message, following the chain to finality, waiting and background loops.
"""
