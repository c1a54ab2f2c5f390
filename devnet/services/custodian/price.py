"""XAU/USD price paths, in integers: USD x 1e8 per fine troy ounce (`price_e8`).

A path moves on ticks (a background worker and/or POST /price/tick):

- constant: always `price_e8`;
- random_walk: each tick moves the price by a whole number of basis points in
  [-step_bps, +step_bps], drawn from `random.Random(f"{seed}:{tick}")`, so the price after
  n ticks depends only on the path and n (`random_walk_price`);
- shock: `start_price_e8`, then the price of the last listed step whose trigger (`at_tick`, or
  `after_s` seconds since the path was set, checked on ticks) has been reached.
"""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, model_validator

from devnet.services.common.params import MAX_DB_INT

E8 = 10**8
BPS = 10_000
#: USD 2,650.00 per fine troy ounce
DEFAULT_PRICE_E8 = 2_650 * E8
PAIR = "XAU/USD"
#: The highest price the store keeps (a 64-bit column); a random walk stops there.
MAX_PRICE_E8 = MAX_DB_INT


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConstantPath(_In):
    path: Literal["constant"] = "constant"
    price_e8: StrictInt = Field(default=DEFAULT_PRICE_E8, gt=0, le=MAX_PRICE_E8)


class RandomWalkPath(_In):
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
    path: Literal["shock"]
    start_price_e8: StrictInt = Field(default=DEFAULT_PRICE_E8, gt=0, le=MAX_PRICE_E8)
    steps: list[ShockStep] = Field(min_length=1, max_length=1_000)


PricePath = Annotated[ConstantPath | RandomWalkPath | ShockPath, Field(discriminator="path")]
PATH_ADAPTER: TypeAdapter[ConstantPath | RandomWalkPath | ShockPath] = TypeAdapter(PricePath)


def load_path(config: dict[str, Any]) -> ConstantPath | RandomWalkPath | ShockPath:
    return PATH_ADAPTER.validate_python(config)


def dump_path(path: ConstantPath | RandomWalkPath | ShockPath) -> dict[str, Any]:
    return path.model_dump(mode="json")


def initial_price(path: ConstantPath | RandomWalkPath | ShockPath) -> int:
    """The price at tick 0, when the path is set."""
    if isinstance(path, ConstantPath):
        return path.price_e8
    if isinstance(path, RandomWalkPath):
        return path.start_price_e8
    return shock_price(path, 0, 0)


def walk_step(path: RandomWalkPath, price_e8: int, tick: int) -> int:
    """The price after tick number `tick` (1-based) of a random walk that stood at `price_e8`."""
    move = random.Random(f"{path.seed}:{tick}").randint(-path.step_bps, path.step_bps)
    return min(MAX_PRICE_E8, max(path.floor_price_e8, price_e8 * (BPS + move) // BPS))


def random_walk_price(path: RandomWalkPath, ticks: int) -> int:
    """The price after `ticks` ticks, replayed from the start."""
    price = path.start_price_e8
    for tick in range(1, ticks + 1):
        price = walk_step(path, price, tick)
    return price


def shock_price(path: ShockPath, tick: int, elapsed_s: int) -> int:
    price = path.start_price_e8
    for step in path.steps:
        if (step.at_tick is not None and tick >= step.at_tick) or (
            step.after_s is not None and elapsed_s >= step.after_s
        ):
            price = step.price_e8
    return price


def next_price(
    path: ConstantPath | RandomWalkPath | ShockPath, price_e8: int, tick: int, elapsed_s: int
) -> int:
    """The price at tick number `tick`, one tick after it stood at `price_e8`."""
    if isinstance(path, ConstantPath):
        return path.price_e8
    if isinstance(path, RandomWalkPath):
        return walk_step(path, price_e8, tick)
    return shock_price(path, tick, elapsed_s)
