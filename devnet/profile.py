"""The BSC profile: what makes a local EVM node behave like a BNB Smart Chain node.

Numbers come from the public sources named beside each; each is configurable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devnet.core.accounts import DEFAULT_MNEMONIC

GWEI = 10**9

#: BSC networks by name; "rialto" (714) is the conventional local BSC devnet id.
CHAIN_IDS: dict[str, int] = {"rialto": 714, "chapel": 97, "mainnet": 56}

#: geth: upstream geth under our own consensus side (blocks on demand, reorgs at will);
#: anvil: the fast tier; bsc: the real BSC client (Parlia, BLS fast finality, 450 ms blocks).
Engine = Literal["geth", "anvil", "bsc"]
#: What `devnet up` (and the demo, load, flood, bench) run when no engine is named.
DEFAULT_ENGINE: Engine = "bsc"
#: bsc seals by Parlia's rules: the interval follows the forks (Fermi: 450 ms), not the profile.
BSC_BLOCK_INTERVAL_MS = 450


def measured_block_period(engine: Engine, given: int | None) -> int:
    """The block period of a node started to measure (flood, bench): what was given, else a
    block a second on geth and anvil (on-demand blocks would measure the sealing trigger);
    bsc takes none (0): it keeps its own interval."""
    if given is not None:
        return given
    return 0 if engine == "bsc" else 1


class TxPoolSizing(BaseModel):
    """Sized like the txpool section of BSC's sample node config."""

    model_config = ConfigDict(extra="forbid")

    account_slots: int = 200
    global_slots: int = 8000
    account_queue: int = 200
    global_queue: int = 4000


class BscProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: Literal["rialto", "chapel", "mainnet"] = "rialto"
    #: Overrides the network's id when set.
    chain_id_override: int | None = None
    #: Base fee is 0 on BSC; EIP-1559 only keeps it at 0 while blocks stay under half full,
    #: so the limit is far above anything the txpool can hold (8000 slots x ~50k gas).
    block_gas_limit: int = 2_000_000_000
    #: Validators' minimum gas price (0.05 gwei since 2025); the whole gas price is the tip.
    min_gas_price_wei: int = Field(default=GWEI // 20, ge=0)
    #: 0 = seal on demand (each batch of transactions at once, for tests);
    #: N > 0 = a block every N seconds (for load).
    block_period_s: int = Field(default=0, ge=0)
    #: On demand: after a block with transactions, seal empty blocks until that block is
    #: finalized, as a BSC chain's next blocks would (a payout waiting for `finalized` then
    #: comes at once). Off: blocks only for transactions and `devnet mine`, so a test can hold
    #: a block unfinalized and reorganise it. anvil: a block every 0.25 s besides its automine.
    seal_until_final: bool = True
    #: geth: how far the `safe` and `finalized` tags trail the head. BSC's fast finality makes
    #: a block final about two blocks later; a reorg never replaces a finalized block.
    safe_lag: int = Field(default=1, ge=0)
    finalized_lag: int = Field(default=2, ge=0)
    #: geth's memory cache. Its database preallocates write-ahead logs in proportion (~1.4 GB
    #: of disk per node at geth's default 1024 MB); a devnet's state is small.
    geth_cache_mb: int = Field(default=256, ge=32)
    #: bsc: seconds between breathe blocks, where the validator set is elected again from
    #: StakeHub (BSC: a UTC day, 86,400 s; bsc's --override.breatheblockinterval). Shorter
    #: only to test them. None = BSC's.
    bsc_breathe_block_interval_s: int | None = Field(default=None, ge=30)
    #: bsc: how many validators seal the chain (one bsc process each). At most 6: their list
    #: takes the place of Chapel's six in the validator-set contract's code. Several start one
    #: after the other (devnet.node.bsc.cluster): ready in about a minute.
    bsc_validators: int = Field(default=1, ge=1, le=6)
    #: EVM rules: BSC Pascal = Prague, Mendel = Osaka.
    hardfork: Literal["prague", "osaka"] = "osaka"
    txpool: TxPoolSizing = TxPoolSizing()
    mnemonic: str = DEFAULT_MNEMONIC
    prefunded_accounts: int = Field(default=500, ge=20)
    #: 1,000,000 BNB each.
    prefund_wei: int = 10**24

    @model_validator(mode="after")
    def _lags_in_order(self) -> BscProfile:
        if self.safe_lag > self.finalized_lag:
            raise ValueError(
                f"safe_lag ({self.safe_lag}) must not exceed finalized_lag ({self.finalized_lag})"
            )
        return self

    def pool_and_price_flags(self) -> list[str]:
        """The profile as flags that geth and bsc (a geth fork) take alike: block gas limit,
        minimum gas price (for sealing and for the pool), txpool sizing, no fee cap."""
        pool = self.txpool
        return [
            "--miner.gaslimit",
            str(self.block_gas_limit),
            "--miner.gasprice",
            str(self.min_gas_price_wei),
            "--txpool.pricelimit",
            str(self.min_gas_price_wei),
            "--txpool.accountslots",
            str(pool.account_slots),
            "--txpool.globalslots",
            str(pool.global_slots),
            "--txpool.accountqueue",
            str(pool.account_queue),
            "--txpool.globalqueue",
            str(pool.global_queue),
            "--rpc.txfeecap",
            "0",
        ]

    def engine_conflict(self, engine: Engine) -> str | None:
        """Why this profile cannot run on `engine`, or None."""
        if engine == "bsc" and self.block_period_s:
            return (
                f"block_period_s={self.block_period_s} is for geth and anvil: bsc seals a block "
                f"every {BSC_BLOCK_INTERVAL_MS} ms by Parlia's rules (choose --engine geth for "
                "another period, or 0 for on-demand blocks)"
            )
        if engine != "bsc" and self.bsc_validators != 1:
            return f"bsc_validators={self.bsc_validators} is for the bsc engine (this one is {engine})"
        return None

    def blocks_text(self, engine: Engine) -> str:
        """How `engine` seals with this profile, in a few words: "450 ms blocks (Parlia)"."""
        if engine == "bsc":
            return f"{BSC_BLOCK_INTERVAL_MS} ms blocks (Parlia)"
        return f"{self.block_period_s} s blocks" if self.block_period_s else "blocks on demand"

    @property
    def chain_id(self) -> int:
        return self.chain_id_override or CHAIN_IDS[self.network]
