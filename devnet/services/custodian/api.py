"""The gold custodian's published contract: every request body, every answer and the `data` of
every webhook it sends, as pydantic models with `StrEnum` statuses, plus the LBMA Good Delivery
bounds the bodies are checked against.

The custodian's routes (`app`) and its client (`client`) both speak these models, so they are
one contract with two users. This module imports only pydantic, the standard library and
`devnet.core`: loading it loads neither the service nor FastAPI nor SQLAlchemy.

Weights are integers in thousandths of a troy ounce (milli-oz), assays in tenths of a part per
thousand (9999 = 999.9), prices in USD x 1e8 per fine troy ounce (`price_e8`), times in unix
seconds (`as_of`) or RFC 3339 in UTC (`deposited_at`). Integers are strict both ways: a float
or a numeric string is refused in a request and in an answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from devnet.core.wire import MAX_DB_INT

# ---- LBMA Good Delivery bounds -----------------------------------------------------------------

MIN_FINE_OZ_MILLI = 350_000
MAX_FINE_OZ_MILLI = 430_000
MIN_ASSAY_TENTHS = 9_950
MAX_ASSAY_TENTHS = 9_999
#: gross weights are recorded in 0.025 oz steps (rounded down)
GROSS_STEP_MILLI = 25
MIN_YEAR = 1900

#: A token pool's name, e.g. "USDKG".
POOL_PATTERN = r"^[A-Z0-9]{2,16}$"

# ---- prices --------------------------------------------------------------------------------------

E8 = 10**8
#: USD 2,650.00 per fine troy ounce
DEFAULT_PRICE_E8 = 2_650 * E8
PAIR = "XAU/USD"
#: The highest price the store keeps (a 64-bit column); a random walk stops there.
MAX_PRICE_E8 = MAX_DB_INT

# ---- enumerations --------------------------------------------------------------------------------


class BarStatus(StrEnum):
    #: in the vault, allocated to no pool
    VAULTED = "vaulted"
    #: in the vault, allocated to `pool`
    ALLOCATED = "allocated"
    #: has left the vault
    RELEASED = "released"


class PricePathKind(StrEnum):
    """How the XAU/USD price moves: the `path` of a price path."""

    CONSTANT = "constant"
    RANDOM_WALK = "random_walk"
    SHOCK = "shock"


class CustodianEvent(StrEnum):
    """The webhook event types the custodian sends, with the model of each one's `data`."""

    #: `BarOut`, status vaulted
    BAR_DEPOSITED = "bar.deposited"
    #: `BarOut`, status allocated
    BAR_ALLOCATED = "bar.allocated"
    #: `BarMoved`: the bar, back in the vault, and the pool it left
    BAR_DEALLOCATED = "bar.deallocated"
    #: `BarMoved`: the bar, released, and the pool it was in (None if it was unallocated)
    BAR_RELEASED = "bar.released"
    #: `AttestationOut`
    ATTESTATION_PUBLISHED = "attestation.published"
    #: `PriceUpdated`
    PRICE_UPDATED = "price.updated"


# ---- request bodies ------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BarIn(_In):
    """A bar as the weight list records it."""

    serial: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    brand: str = Field(min_length=1, max_length=80, description="refiner (LBMA brand)")
    year: StrictInt = Field(ge=MIN_YEAR, description="year of manufacture, not in the future")
    # The schema's bounds let through every weight some assay makes Good Delivery; the fine
    # weight itself (350-430 oz) is checked on deposit.
    gross_oz_milli: StrictInt = Field(
        ge=MIN_FINE_OZ_MILLI,
        le=(MAX_FINE_OZ_MILLI + 1) * 10_000 // MIN_ASSAY_TENTHS,
        multiple_of=GROSS_STEP_MILLI,
        description="gross troy oz x 1000, in 0.025 oz steps; fine weight 350-430 oz",
    )
    assay_tenths: StrictInt = Field(
        ge=MIN_ASSAY_TENTHS, le=MAX_ASSAY_TENTHS, description="fineness x 10: 9950 = 995.0, 9999 = 999.9"
    )
    pool: str | None = Field(default=None, description="allocate to this pool on deposit")


class PoolIn(_In):
    pool: str


class TickIn(_In):
    ticks: StrictInt = Field(default=1, ge=1, le=10_000)


class ConstantPath(_In):
    path: Literal["constant"] = "constant"
    price_e8: StrictInt = Field(default=DEFAULT_PRICE_E8, gt=0, le=MAX_PRICE_E8)


class RandomWalkPath(_In):
    """Each tick moves the price by a whole number of basis points in [-step_bps, +step_bps],
    drawn from `random.Random(f"{seed}:{tick}")`: the price after n ticks depends only on the
    path and n."""

    path: Literal["random_walk"]
    seed: StrictInt = 0
    start_price_e8: StrictInt = Field(default=DEFAULT_PRICE_E8, gt=0, le=MAX_PRICE_E8)
    #: largest move per tick, in basis points
    step_bps: StrictInt = Field(default=10, ge=0, le=1_000)
    #: the walk never goes below this
    floor_price_e8: StrictInt = Field(default=1, gt=0, le=MAX_PRICE_E8)


class ShockStep(_In):
    at_tick: StrictInt | None = Field(default=None, ge=0)
    after_s: StrictInt | None = Field(default=None, ge=0)
    price_e8: StrictInt = Field(gt=0, le=MAX_PRICE_E8)

    @model_validator(mode="after")
    def _one_trigger(self) -> ShockStep:
        if (self.at_tick is None) == (self.after_s is None):
            raise ValueError("a shock step has exactly one of at_tick and after_s")
        return self


class ShockPath(_In):
    """`start_price_e8`, then the price of the last listed step whose trigger (`at_tick`, or
    `after_s` seconds since the path was set, checked on ticks) has been reached."""

    path: Literal["shock"]
    start_price_e8: StrictInt = Field(default=DEFAULT_PRICE_E8, gt=0, le=MAX_PRICE_E8)
    steps: list[ShockStep] = Field(min_length=1, max_length=1_000)


AnyPath = ConstantPath | RandomWalkPath | ShockPath
#: A price path, told apart by its `path`.
PricePath = Annotated[AnyPath, Field(discriminator="path")]

# ---- answers ------------------------------------------------------------------------------------


class BarOut(BaseModel):
    serial: str
    brand: str
    year: StrictInt
    gross_oz_milli: StrictInt
    assay_tenths: StrictInt
    fine_oz_milli: StrictInt
    status: BarStatus
    pool: str | None
    deposited_at: datetime
    released_at: datetime | None

    @field_validator("deposited_at", "released_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite hands timestamps back without their zone; they were written in UTC.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class BarList(BaseModel):
    bars: list[BarOut]


class Totals(BaseModel):
    bar_count: StrictInt
    gross_oz_milli: StrictInt
    fine_oz_milli: StrictInt


class WeightList(BaseModel):
    pool: str | None
    as_of: StrictInt
    bars: list[BarOut]
    totals: Totals


class AttestationOut(BaseModel):
    """A signed statement of the fine gold allocated to `pool` at `as_of`: `message` is the
    canonical text of the attested fields (`devnet.core.attestation`), `signature` its EIP-191
    signature by `signer`."""

    id: str
    pool: str
    total_fine_oz_milli: StrictInt
    bar_count: StrictInt
    as_of: StrictInt
    message: str
    signature: str
    signer: str


class CustodianInfo(BaseModel):
    custodian: str
    signer: str = Field(description="the address attestations are signed with (EIP-191)")
    pools: list[str]
    pair: str


class PriceOut(BaseModel):
    pair: str
    price_e8: StrictInt
    as_of: StrictInt
    path: PricePathKind


class PriceStateOut(BaseModel):
    config: AnyPath = Field(discriminator="path", description="the path the price follows")
    tick: StrictInt
    price_e8: StrictInt
    as_of: StrictInt
    started_at: StrictInt


# ---- webhook event data -------------------------------------------------------------------------


class BarMoved(BarOut):
    """The `data` of `bar.deallocated` and `bar.released`."""

    previous_pool: str | None = Field(description="the pool the bar was allocated to before")


class PriceUpdated(PriceOut):
    """The `data` of `price.updated`."""

    tick: StrictInt
    previous_price_e8: StrictInt | None = Field(description="none when the first path is set")
