"""XAU/USD price paths, in integers: USD x 1e8 per fine troy ounce (`price_e8`). The paths
themselves (`ConstantPath`, `RandomWalkPath`, `ShockPath`) are part of the custodian's contract
(`api`); this module moves the price along them.

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
from typing import Any

from pydantic import TypeAdapter

from devnet.services.custodian.api import (
    MAX_PRICE_E8,
    AnyPath,
    ConstantPath,
    PricePath,
    RandomWalkPath,
    ShockPath,
)

BPS = 10_000
PATH_ADAPTER: TypeAdapter[AnyPath] = TypeAdapter(PricePath)


def load_path(config: dict[str, Any]) -> AnyPath:
    return PATH_ADAPTER.validate_python(config)


def dump_path(path: AnyPath) -> dict[str, Any]:
    return path.model_dump(mode="json")


def initial_price(path: AnyPath) -> int:
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


def next_price(path: AnyPath, price_e8: int, tick: int, elapsed_s: int) -> int:
    """The price at tick number `tick`, one tick after it stood at `price_e8`."""
    if isinstance(path, ConstantPath):
        return path.price_e8
    if isinstance(path, RandomWalkPath):
        return walk_step(path, price_e8, tick)
    return shock_price(path, tick, elapsed_s)
