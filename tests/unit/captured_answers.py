"""Answers and webhook event data of the issuer and the exchange, as the services sent them
before their answers were typed: captured from a running devnet (`devnet up`, the remittance
cycles of harness.flows) and from the exchange's own test world (tests/services/test_exchange.py).
The published models must read each one and write it back unchanged."""

from __future__ import annotations

from typing import Any

#: an entry of GET /mints: a KGST mint, minted
MINT_MINTED: Any = {
    "id": 9,
    "source_ref": "bank:pmt_cd21b790c32b3b74ff19",
    "token": "KGST",
    "wallet": "0x553BC17A05702530097c3677091C5BB47a3a7931",
    "fiat_amount": 1000,
    "amount": "10000000000000000000",
    "status": "minted",
    "reason": None,
    "tx_hash": "0x167e99a89c1afce3294ad587b293d7d0b6e8b1cd03c5b9d2aa5aa19af34be5cd",
    "block_number": 167,
    "block_hash": "0x317f1288d1ead9b65bfd5e86e39bdc9cae2874d89415662a36ff82c84ebe8cde",
    "bank_payment_id": "pmt_cd21b790c32b3b74ff19",
    "attempts": 1,
}

#: GET /mints/by-payment/{id} of a credit that named no wallet
MINT_HELD: Any = {
    "id": 10,
    "source_ref": "bank:pmt_3bc6e5ec3b45e6f7fc14",
    "token": "KGST",
    "wallet": None,
    "fiat_amount": 500,
    "amount": "5000000000000000000",
    "status": "held",
    "reason": "no wallet address in the payment's remittance information",
    "tx_hash": None,
    "block_number": None,
    "block_hash": None,
    "bank_payment_id": "pmt_3bc6e5ec3b45e6f7fc14",
    "attempts": 0,
}

#: an entry of GET /redemptions
REDEMPTION_PAID: Any = {
    "id": 7,
    "token": "USDKG",
    "tx_hash": "0xc5bb39fe9d51ed7526bc9f46eaab58fec17fab6a6c95b5be9f5f49be079a2613",
    "log_index": 1,
    "redemption_id": 2,
    "holder": "0xDf37F81dAAD2b0327A0A50003740e1C935C70913",
    "amount": "500000000",
    "payout_ref": "1030000000001657",
    "payout_amount": 50000,
    "status": "paid",
    "reason": None,
    "bank_payment_id": "pmt_a121a206568a6c24ee72",
    "block_number": 164,
    "block_hash": "0x115c8ee17c876d92d615024bd82e1939fae6975411df96408fa50e7bb7c80328",
}

#: GET /redemptions/by-tx/{hash} of a payout to a bad account number
REDEMPTION_FAILED: Any = [
    {
        "id": 8,
        "token": "KGST",
        "tx_hash": "0x0079f086de799b567a81d0bcb374659eb8f8368876876dc9dde1cf01a2a91d09",
        "log_index": 1,
        "redemption_id": 6,
        "holder": "0x553BC17A05702530097c3677091C5BB47a3a7931",
        "amount": "10000000000000000000",
        "payout_ref": "1234567890123456",
        "payout_amount": 1000,
        "status": "failed",
        "reason": "payout reference '1234567890123456': check digits do not match (mod 97)",
        "bank_payment_id": None,
        "block_number": 170,
        "block_hash": "0xd7c40358543912f185fdaf650399281f16a7abd53095c4b1edff8c629bf1d655",
    }
]

#: POST /usdkg/mint-requests
MINT_REQUEST_ACCEPTED: Any = {
    "id": "umr_59419fcae4f96211cb8a",
    "status": "accepted",
    "mint_id": 8,
    "bank_payment_id": "pmt_50a07beb154ce33f8cf3",
}

#: GET /info of the issuer
ISSUER_INFO: Any = {"finality": "finalized tag", "confirmations": None, "scanned_block": 170}

#: GET /reserves (members that are null are left out)
RESERVES: Any = {
    "KGST": {"supply": "0", "decimals": 18, "max_supply": "15000000000000000000"},
    "USDKG": {"supply": "0", "decimals": 6, "max_supply": "6359364000000"},
}

#: the data of a mint.queued event
MINT_QUEUED_EVENT: Any = {
    "id": 1,
    "source_ref": "bank:pmt_39d2687c3effc6efce7a",
    "token": "KGST",
    "wallet": "0x09DB0a93B389bEF724429898f539AEB7ac2Dd55f",
    "fiat_amount": 10000,
    "amount": "100000000000000000000",
    "status": "queued",
    "reason": None,
    "tx_hash": None,
    "block_number": None,
    "block_hash": None,
    "bank_payment_id": "pmt_39d2687c3effc6efce7a",
    "attempts": 0,
}

#: POST /listings/reviews of KGST
REVIEW: Any = {
    "id": "rev_2f06c3d38f55396efdd7",
    "token_address": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    "passed": True,
    "block_number": 172,
    "checks": [
        {"name": "contract_code", "passed": True, "detail": "12602 bytes of runtime code", "required": True},
        {
            "name": "bep20_metadata",
            "passed": True,
            "detail": "name='Kyrgyz Som Stablecoin', symbol='KGST', decimals=18, totalSupply=0, "
            "getOwner=0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "required": True,
        },
        {
            "name": "runtime_bytecode",
            "passed": True,
            "detail": "runtime code equals the committed StableCoin artifact (immutables masked)",
            "required": True,
        },
        {
            "name": "transfer_events",
            "passed": True,
            "detail": "20 Transfer logs, 6 Mint, 0 Burn, 6 Redeemed; minted "
            "420000000000000000000, burned 420000000000000000000; every "
            "Mint/Burn/Redeemed has its Transfer, totalSupply reconciles; a simulated "
            "transfer emitted Transfer",
            "required": True,
        },
        {
            "name": "fee_on_transfer",
            "passed": True,
            "detail": "no fee on transfer: transferFeeBps=0; no holder with a balance to probe a "
            "transfer with",
            "required": True,
        },
        {
            "name": "paused",
            "passed": True,
            "detail": "not paused; pausable (paused() is false)",
            "required": True,
        },
        {
            "name": "blacklist",
            "passed": True,
            "detail": "blacklist capability (isBlacklisted); hot wallet "
            "0x9858EfFD232B4033E47d90003D41EC34EcaEda94 is not blacklisted",
            "required": True,
        },
    ],
    "capabilities": {
        "pause": True,
        "blacklist": True,
        "transfer_fee": True,
        "transfer_fee_bps": 0,
        "mint_events": True,
        "simulation": True,
        "holders_seen": 8,
    },
    "created_at": "2026-12-03T11:32:17.128571+00:00",
}

#: POST /listings/reviews of an address without code
REVIEW_OF_AN_ACCOUNT: Any = {
    "id": "rev_fc0de532c477da9957d3",
    "token_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "passed": False,
    "block_number": 31,
    "checks": [
        {
            "name": "contract_code",
            "passed": False,
            "detail": "no contract code at 0x70997970C51812dc3A010C7d01b50e0d17dc79C8: an "
            "externally owned account or nothing",
            "required": True,
        },
        {
            "name": "bep20_metadata",
            "passed": False,
            "detail": "not checked: no contract code",
            "required": True,
        },
        {
            "name": "runtime_bytecode",
            "passed": False,
            "detail": "not checked: no contract code",
            "required": True,
        },
        {
            "name": "transfer_events",
            "passed": False,
            "detail": "not checked: no contract code",
            "required": True,
        },
        {
            "name": "fee_on_transfer",
            "passed": False,
            "detail": "not checked: no contract code",
            "required": True,
        },
        {"name": "paused", "passed": False, "detail": "not checked: no contract code", "required": True},
        {"name": "blacklist", "passed": False, "detail": "not checked: no contract code", "required": True},
    ],
    "capabilities": {},
    "created_at": "2026-12-03T12:00:55.848085+00:00",
}

#: GET /networks
NETWORKS: Any = {
    "chainId": 714,
    "networks": [
        {
            "coin": "KGST",
            "network": "BSC",
            "chainId": 714,
            "contractAddress": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
            "decimals": 18,
            "depositEnable": True,
            "withdrawEnable": True,
            "withdrawFee": "0",
            "withdrawMin": "1",
            "withdrawMax": "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            "withdrawIntegerMultiple": "1",
            "depositDust": "0",
            "minConfirm": 5,
            "unLockConfirm": 15,
            "addressRegex": "^(0x)[0-9A-Fa-f]{40}$",
            "status": "normal",
            "configured": {"depositEnable": True, "withdrawEnable": True},
            "paused": False,
            "hotWalletBlacklisted": False,
            "stateBlock": 172,
            "stateCheckedAt": "2026-12-03T11:32:16.881007+00:00",
            "stateError": None,
        },
        {
            "coin": "USDKG",
            "network": "BSC",
            "chainId": 714,
            "contractAddress": "0x0165878A594ca255338adfa4d48449f69242Eb8F",
            "decimals": 6,
            "depositEnable": True,
            "withdrawEnable": True,
            "withdrawFee": "0",
            "withdrawMin": "1",
            "withdrawMax": "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            "withdrawIntegerMultiple": "1",
            "depositDust": "0",
            "minConfirm": 5,
            "unLockConfirm": 15,
            "addressRegex": "^(0x)[0-9A-Fa-f]{40}$",
            "status": "normal",
            "configured": {"depositEnable": True, "withdrawEnable": True},
            "paused": False,
            "hotWalletBlacklisted": False,
            "stateBlock": 172,
            "stateCheckedAt": "2026-12-03T11:32:16.881737+00:00",
            "stateError": None,
        },
    ],
}

#: GET /info of the exchange
EXCHANGE_INFO: Any = {
    "chain_id": 714,
    "network": "BSC",
    "hot_wallet": "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
    "gas_funder": "0xFABB0ac9d68B0B445fB7357272Ff202C5651694a",
    "last_block": 172,
    "watcher_ticks": 123,
    "tokens": {
        "KGST": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        "USDKG": "0x0165878A594ca255338adfa4d48449f69242Eb8F",
    },
}

#: POST /users
USER: Any = {
    "id": "usr_e7234b390634d44264f3",
    "name": "sender 4474cd",
    "created_at": "2026-12-03T11:32:11.418330+00:00",
}

#: GET /users/{id}
USER_DETAIL: Any = {
    "id": "usr_b21099db4283096c484a",
    "name": "capture",
    "created_at": "2026-12-03T11:32:16.986123+00:00",
    "deposit_addresses": {},
}

#: POST /users/{id}/deposit-addresses
ADDRESS: Any = {
    "user_id": "usr_32a64064387c9257fc2d",
    "token": "KGST",
    "address": "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0",
    "created_at": "2026-12-03T12:00:56.009794+00:00",
}

#: GET /users/{id}/deposit-addresses
ADDRESSES: Any = {"user_id": "usr_b21099db4283096c484a", "addresses": []}

#: GET /users/{id}/balances
BALANCES: Any = {
    "user_id": "usr_6be6e4c7e32410adcc22",
    "balances": {
        "KGST": {"available": "0", "locked": "0", "pending": "30000000000000000000"},
        "USDKG": {"available": "0", "locked": "0", "pending": "0"},
    },
}

#: GET /deposits/{id}
DEPOSIT: Any = {
    "id": "dep_d9950bc6102c397a92ae",
    "user_id": "usr_dc5555fb5dabc01198db",
    "token": "KGST",
    "address": "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0",
    "from": "0x08135Da0A343E492FA2d4282F2AE34c6c5CC1BbE",
    "chain_id": 714,
    "tx_hash": "0xa11813e3fa78edde098b87ab51bfcf5977954d0a9749782ef53d7999eeea1292",
    "log_index": 0,
    "block_number": 45,
    "block_hash": "0xd6736aa3c14a7e40a3d5ce67d8f684d368b031d58504187c189d032649699e8f",
    "value": "100000000000000000000",
    "amount": "100000000000000000000",
    "status": "unlocked",
    "confirmations": 143,
    "reversals": 0,
    "created_at": "2026-12-03T11:31:56.851655+00:00",
    "credited_at": "2026-12-03T11:31:57.340070+00:00",
    "unlocked_at": "2026-12-03T11:31:57.766043+00:00",
    "reversed_at": None,
}

#: GET /users/{id}/deposits
USER_DEPOSITS: Any = {
    "user_id": "usr_dc5555fb5dabc01198db",
    "deposits": [
        {
            "id": "dep_d9950bc6102c397a92ae",
            "user_id": "usr_dc5555fb5dabc01198db",
            "token": "KGST",
            "address": "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0",
            "from": "0x08135Da0A343E492FA2d4282F2AE34c6c5CC1BbE",
            "chain_id": 714,
            "tx_hash": "0xa11813e3fa78edde098b87ab51bfcf5977954d0a9749782ef53d7999eeea1292",
            "log_index": 0,
            "block_number": 45,
            "block_hash": "0xd6736aa3c14a7e40a3d5ce67d8f684d368b031d58504187c189d032649699e8f",
            "value": "100000000000000000000",
            "amount": "100000000000000000000",
            "status": "unlocked",
            "confirmations": 143,
            "reversals": 0,
            "created_at": "2026-12-03T11:31:56.851655+00:00",
            "credited_at": "2026-12-03T11:31:57.340070+00:00",
            "unlocked_at": "2026-12-03T11:31:57.766043+00:00",
            "reversed_at": None,
        }
    ],
}

#: GET /deposits?tx_hash=
DEPOSITS_OF_TX: Any = {
    "deposits": [
        {
            "id": "dep_d9950bc6102c397a92ae",
            "user_id": "usr_dc5555fb5dabc01198db",
            "token": "KGST",
            "address": "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0",
            "from": "0x08135Da0A343E492FA2d4282F2AE34c6c5CC1BbE",
            "chain_id": 714,
            "tx_hash": "0xa11813e3fa78edde098b87ab51bfcf5977954d0a9749782ef53d7999eeea1292",
            "log_index": 0,
            "block_number": 45,
            "block_hash": "0xd6736aa3c14a7e40a3d5ce67d8f684d368b031d58504187c189d032649699e8f",
            "value": "100000000000000000000",
            "amount": "100000000000000000000",
            "status": "unlocked",
            "confirmations": 143,
            "reversals": 0,
            "created_at": "2026-12-03T11:31:56.851655+00:00",
            "credited_at": "2026-12-03T11:31:57.340070+00:00",
            "unlocked_at": "2026-12-03T11:31:57.766043+00:00",
            "reversed_at": None,
        }
    ]
}

#: POST /withdrawals
WITHDRAWAL: Any = {
    "id": "wdr_cd85bc00ab08c4b86566",
    "user_id": "usr_c80ef1d67fe63477a591",
    "token": "KGST",
    "address": "0x5E661B79FE2D3F6cE70F5AAC07d8Cd9abb2743F1",
    "amount": "100000000000000000000",
    "fee": "0",
    "net_amount": "100000000000000000000",
    "status": "processing",
    "tx_hash": None,
    "block_number": None,
    "failure_reason": None,
    "created_at": "2026-12-03T11:32:13.171037+00:00",
    "finished_at": None,
}

#: GET /internal-transfers/{id}
TRANSFER: Any = {
    "id": "itr_2dd79fed8759ab5d4454",
    "from_user_id": "usr_dc5555fb5dabc01198db",
    "to_user_id": "usr_a6c1f444096cf2f42802",
    "token": "KGST",
    "amount": "100000000000000000000",
    "status": "completed",
    "created_at": "2026-12-03T11:31:58.607003+00:00",
}

#: GET /admin/sweeps/{id}
SWEEP: Any = {
    "id": "swp_236cbb15c034623ab809",
    "token": "KGST",
    "address": "0xc0ED2ebb580bECD97b5b9023550831d094309Db9",
    "status": "completed",
    "amount": "1050000000000000000",
    "received": "1050000000000000000",
    "gas_topup_wei": "4166550000000",
    "gas_tx_hash": "0x20e68c958223120f96047c1186fab7061c76ed817c536e2d219c70c86d25b362",
    "tx_hash": "0xf4c29864643fd723ceec644265289193ad4e3a4500090a36fa5b08e9f67281a2",
    "failure_reason": None,
    "created_at": "2026-12-03T11:33:28.756109+00:00",
    "finished_at": "2026-12-03T11:33:29.669008+00:00",
}

#: POST /admin/sweeps while the token is paused
SWEEPS_CREATED: Any = {
    "sweeps": [],
    "skipped": [
        {"address": "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0", "token": "KGST", "reason": "token paused"}
    ],
}

#: GET /admin/sweeps
SWEEPS: Any = {
    "sweeps": [
        {
            "id": "swp_93738cb691f1d134abb9",
            "token": "KGST",
            "address": "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0",
            "status": "completed",
            "amount": "100000000000000000000",
            "received": "100000000000000000000",
            "gas_topup_wei": "4166550000000",
            "gas_tx_hash": "0x5c66b7a4e608c2e71aaac1244c6e7061d5749e4824c2db6539dd6d45259dbefb",
            "tx_hash": "0x9fa087d64184437a36813a9f5c470c8e37502dfe56a10562081a7d9808f9582b",
            "failure_reason": None,
            "created_at": "2026-12-03T11:31:57.842194+00:00",
            "finished_at": "2026-12-03T11:31:58.572130+00:00",
        },
        {
            "id": "swp_54528a38821a269bff76",
            "token": "KGST",
            "address": "0xb6716976A3ebe8D39aCEB04372f22Ff8e6802D7A",
            "status": "completed",
            "amount": "100000000000000000000",
            "received": "100000000000000000000",
            "gas_topup_wei": "4166550000000",
            "gas_tx_hash": "0x402b484f9a51c4f2dea8df3ddfa4cb365bad93d26de63ec05331a77458b3fb5c",
            "tx_hash": "0x197d6c246a9baca03ac549fd56455900a1349d7d58d039574ed045fba66b064d",
            "failure_reason": None,
            "created_at": "2026-12-03T11:32:12.436031+00:00",
            "finished_at": "2026-12-03T11:32:13.097156+00:00",
        },
    ]
}

#: GET /reconciliation
RECONCILIATION: Any = {
    "block": 231,
    "last_processed_block": 231,
    "tokens": {
        "KGST": {
            "liabilities": "35000000000000000000",
            "holdings": "36000000000000000000",
            "user_balances": "35000000000000000000",
            "withdrawals_in_flight": "0",
            "surplus": "1000000000000000000",
        },
        "USDKG": {
            "liabilities": "0",
            "holdings": "0",
            "user_balances": "0",
            "withdrawals_in_flight": "0",
            "surplus": "0",
        },
    },
    "credited_deposits": 3,
    "duplicate_deposits": [],
}

#: POST /admin/rescan
RESCAN: Any = {"from_block": 172, "previous_last_block": 172}

#: The data of events the exchange emitted, one of each model (network.updated carries what
#: network.status_changed does, deposit.pending and deposit.credited what deposit.unlocked does,
#: withdrawal.processing what withdrawal.completed does, sweep.failed what sweep.completed does).
EXCHANGE_EVENTS: dict[str, Any] = {
    "network.status_changed": {
        "coin": "KGST",
        "network": "BSC",
        "chainId": 714,
        "contractAddress": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        "decimals": 18,
        "depositEnable": False,
        "withdrawEnable": False,
        "withdrawFee": "1000000000000000000",
        "withdrawMin": "2000000000000000000",
        "withdrawMax": "1000000000000000000000",
        "withdrawIntegerMultiple": "1000000000000000",
        "depositDust": "100000000000000000",
        "minConfirm": 2,
        "unLockConfirm": 4,
        "addressRegex": "^(0x)[0-9A-Fa-f]{40}$",
        "status": "token paused",
        "configured": {"depositEnable": True, "withdrawEnable": True},
        "paused": True,
        "hotWalletBlacklisted": False,
        "stateBlock": 20,
        "stateCheckedAt": "2026-12-03T11:33:21.223880+00:00",
        "stateError": None,
    },
    "deposit.unlocked": {
        "id": "dep_b08d26933085da4515b9",
        "user_id": "usr_cfa6712ab5aaee926b3c",
        "token": "KGST",
        "address": "0x7a87fd4aA75C1a08Ca06DfC48A19D23B248B162a",
        "from": "0x1BcB8e569EedAb4668e55145Cfeaf190902d3CF2",
        "chain_id": 714,
        "tx_hash": "0xa2335b59b39c49d18af1e8e5ddc3d3b6ea1aa7567e97cecd49960af8c47ddd3d",
        "log_index": 0,
        "block_number": 22,
        "block_hash": "0xfc5d9ebf04625c0695024ed2bf307b157c52de94428b92cd04369073f525429b",
        "value": "100000000000000000000",
        "amount": "100000000000000000000",
        "status": "unlocked",
        "confirmations": 4,
        "reversals": 0,
        "created_at": "2026-12-03T11:33:22.442483+00:00",
        "credited_at": "2026-12-03T11:33:22.961191+00:00",
        "unlocked_at": "2026-12-03T11:33:23.380883+00:00",
        "reversed_at": None,
    },
    "deposit.reversed": {
        "id": "dep_6e280fc045a0e0ef410c",
        "user_id": "usr_a210f59dbc2bb08e4a40",
        "token": "KGST",
        "address": "0xC70f64638E2813DB276D4E85F2EA6ED7F1a1741d",
        "from": "0x1BcB8e569EedAb4668e55145Cfeaf190902d3CF2",
        "chain_id": 714,
        "tx_hash": "0xf38b6feff9dfaef1f73f9dc41db874d96344ec76f5757c90ee9a2f73a0649a17",
        "log_index": 0,
        "block_number": 40,
        "block_hash": "0x8f5de6a29deb77d111c6c18c3955a6292e0df0ddc33a4a733eac377b98cc8165",
        "value": "40000000000000000000",
        "amount": "40000000000000000000",
        "status": "reversed",
        "confirmations": 0,
        "reversals": 1,
        "created_at": "2026-12-03T11:33:26.803296+00:00",
        "credited_at": "2026-12-03T11:33:27.109442+00:00",
        "unlocked_at": None,
        "reversed_at": "2026-12-03T11:33:27.235431+00:00",
        "previous_status": "credited",
    },
    "withdrawal.completed": {
        "id": "wdr_04d30547bba8e2786fe5",
        "user_id": "usr_6be6e4c7e32410adcc22",
        "token": "KGST",
        "address": "0xC0543b0b980D8c834CBdF023b2d2A75b5f9D1909",
        "amount": "12000000000000000000",
        "fee": "1000000000000000000",
        "net_amount": "11000000000000000000",
        "status": "completed",
        "tx_hash": "0x46cdcb39fc932dcbceaeeb77712b2420948c04d94f7f66cb4441f236f051a669",
        "block_number": 97,
        "failure_reason": None,
        "created_at": "2026-12-03T11:33:31.686252+00:00",
        "finished_at": "2026-12-03T11:33:32.072673+00:00",
    },
    "withdrawal.failed": {
        "id": "wdr_c7b6d0c078ddfd9eb9ae",
        "user_id": "usr_86d697e8197326da7b89",
        "token": "KGST",
        "address": "0x1BcB8e569EedAb4668e55145Cfeaf190902d3CF2",
        "amount": "5000000000000000000",
        "fee": "1000000000000000000",
        "net_amount": "4000000000000000000",
        "status": "failed",
        "tx_hash": None,
        "block_number": None,
        "failure_reason": "ERC20InsufficientBalance(0x63085173b3bde1766d7d645943f51d6a19ce9d9d, "
        "0, 4000000000000000000)",
        "created_at": "2026-12-03T11:33:49.042865+00:00",
        "finished_at": "2026-12-03T11:33:49.105825+00:00",
    },
    "internal_transfer.completed": {
        "id": "itr_83e23d43ec5fc62a89cf",
        "from_user_id": "usr_2e8e85f2cae80e53ffa1",
        "to_user_id": "usr_e0e3fd4004c2fc26908e",
        "token": "KGST",
        "amount": "7000000000000000000",
        "status": "completed",
        "created_at": "2026-12-03T11:33:52.301258+00:00",
    },
    "sweep.completed": {
        "id": "swp_50bc683e954c6a4326d9",
        "token": "KGST",
        "address": "0x7a87fd4aA75C1a08Ca06DfC48A19D23B248B162a",
        "status": "completed",
        "amount": "100000000000000000000",
        "received": "100000000000000000000",
        "gas_topup_wei": "4167300000000",
        "gas_tx_hash": "0x93b2f83a5f9fc6bdf7ba7be1104fb2016e1e855e0701924855f567e788ed58f3",
        "tx_hash": "0x65169e90501d64979c6ec82c947f47140a1de652f21b319d7f44c2885159360c",
        "failure_reason": None,
        "created_at": "2026-12-03T11:33:28.756102+00:00",
        "finished_at": "2026-12-03T11:33:29.615762+00:00",
    },
}
