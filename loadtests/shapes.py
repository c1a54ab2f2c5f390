"""Load shapes: a step ramp, a spike, and a remittance day. Configured by environment:
LOAD_SHAPE=step|spike|day, LOAD_USERS (peak users), LOAD_DURATION_S, LOAD_SPAWN_RATE."""

from __future__ import annotations

import os

from locust import LoadTestShape

PEAK = int(os.environ.get("LOAD_USERS", "20"))
DURATION_S = int(os.environ.get("LOAD_DURATION_S", "120"))
SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE", "5"))

#: Share of the day's remittances per hour of Moscow time (UTC+3), in percent: migrant workers
#: send in business hours and evenings, few at night. A modelling choice of this project, not a
#: published statistic; replace this table to model another corridor.
MOSCOW_HOURLY_PCT = (1, 1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 7, 7, 7, 7, 6, 6, 5, 3, 2, 1, 1)


class StepRamp(LoadTestShape):
    """PEAK users in 5 equal steps over the run: where does latency bend?"""

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t > DURATION_S:
            return None
        step = min(5, int(t // (DURATION_S / 5)) + 1)
        return max(1, PEAK * step // 5), SPAWN_RATE


class Spike(LoadTestShape):
    """A fifth of PEAK, then all of it for the middle fifth of the run, then back."""

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t > DURATION_S:
            return None
        in_spike = 2 * DURATION_S / 5 <= t < 3 * DURATION_S / 5
        return (PEAK if in_spike else max(1, PEAK // 5)), max(SPAWN_RATE, float(PEAK))


class RemittanceDay(LoadTestShape):
    """24 Moscow hours compressed into the run; users follow each hour's share of the day."""

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t > DURATION_S:
            return None
        hour = int(t * 24 // DURATION_S) % 24
        users = max(1, PEAK * MOSCOW_HOURLY_PCT[hour] // max(MOSCOW_HOURLY_PCT))
        return users, SPAWN_RATE


SHAPES = {"step": StepRamp, "spike": Spike, "day": RemittanceDay}
