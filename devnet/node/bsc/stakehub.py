"""The validator's registration in StakeHub, without which the chain halts at its first
breathe block.

At a breathe block (the first block of each UTC day; bsc's `--override.breatheblockinterval`
shortens the "day") Parlia calls the validator-set contract's `updateValidatorSetV2` with the
validators StakeHub elects. With none registered that call fails (an invalid opcode), the
block cannot be sealed, and the chain stops. So once the node is ready, the operator account
registers the genesis validator with StakeHub's `createValidator` (its consensus address,
BLS vote key and proof of possession, and the minimum self-delegation); the election then
keeps it. Sources: bnb-chain/bsc-genesis-contract `contracts/StakeHub.sol` (createValidator,
LOCK_AMOUNT, minSelfDelegationBNB, the moniker rule) and bnb-chain/bsc
`consensus/parlia/feynmanfork.go` (isBreatheBlock).

A node must not reach a breathe block before the registration lands: `breathe_wait_s` says
how long to wait before starting one so that the next breathe block is at least a margin away.
"""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from devnet.core.chain import Chain
from devnet.core.wallets import Wallet
from devnet.profile import BscProfile

STAKE_HUB = "0x0000000000000000000000000000000000002002"
#: StakeHub's minimum self-delegation (minSelfDelegationBNB: 2,000 BNB) + the 1 BNB it locks.
SELF_DELEGATION_WEI = 2_001 * 10**18
#: BSC's breathe-block interval: a UTC day.
BSC_BREATHE_INTERVAL_S = 86_400
#: How far away the next breathe block must be when an unregistered node starts: its start
#: (a few seconds, more on a loaded machine) and the registration's block must fit before it.
BREATHE_MARGIN_S = 30
#: How long a registration may wait for its block.
REGISTER_TIMEOUT_S = 120

_CREATE_VALIDATOR = (
    "createValidator(address,bytes,bytes,(uint64,uint64,uint64),(string,string,string,string))"
)
#: Commission in basis points: rate, max rate (StakeHub allows up to 5,000), max daily change.
COMMISSION = (1_000, 5_000, 500)


def moniker(index: int) -> str:
    """StakeHub's rule: 3 to 9 characters, alphanumeric, the first an upper-case letter."""
    return f"Devnet{index}"


def create_validator_data(consensus: str, vote_key: bytes, proof: bytes, index: int = 0) -> bytes:
    args = (
        to_checksum_address(consensus),
        vote_key,
        proof,
        COMMISSION,
        (moniker(index), "", "", f"devnet validator {index}"),
    )
    types = ["address", "bytes", "bytes", "(uint64,uint64,uint64)", "(string,string,string,string)"]
    return keccak(text=_CREATE_VALIDATOR)[:4] + encode(types, args)


def operator_of(chain: Chain, consensus: str) -> str | None:
    """The operator StakeHub has for `consensus`, None when it has none."""
    selector = keccak(text="consensusToOperator(address)")[:4]
    data = selector + encode(["address"], [to_checksum_address(consensus)])
    answer = chain.rpc.call("eth_call", {"to": STAKE_HUB, "data": "0x" + data.hex()}, "latest")
    operator = "0x" + answer.removeprefix("0x")[-40:]
    return None if int(operator, 16) == 0 else to_checksum_address(operator)


def register(
    rpc_url: str,
    profile: BscProfile,
    operator: Wallet,
    consensus: str,
    vote_key: bytes,
    proof: bytes,
    index: int = 0,
) -> str:
    """Register `consensus` in StakeHub from `operator` (unless it is registered already) and
    wait for its block; returns the operator's address."""
    chain = Chain(rpc_url, gas_price=profile.min_gas_price_wei, chain_id=profile.chain_id)
    try:
        if (existing := operator_of(chain, consensus)) is not None:
            return existing
        data = create_validator_data(consensus, vote_key, proof, index)
        # Generous: several validators seal only once all have started and synced.
        sent = chain.send(operator, STAKE_HUB, data, value=SELF_DELEGATION_WEI)
        chain.wait(sent, timeout=REGISTER_TIMEOUT_S)
        registered = operator_of(chain, consensus)
        if registered != operator.address:
            raise RuntimeError(f"StakeHub names {registered} as the operator of {consensus}")
        return registered
    finally:
        chain.close()


def breathe_wait_s(now: float, interval_s: int, margin_s: float = BREATHE_MARGIN_S) -> float:
    """Seconds to wait from `now` so that the next breathe block (at a multiple of
    `interval_s`) is at least `margin_s` away: 0 unless one is closer than that."""
    to_next = interval_s - now % interval_s
    return 0.0 if to_next >= margin_s else to_next + 1.0
