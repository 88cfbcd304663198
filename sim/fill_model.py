"""How a district's bins fill, hour by hour, for weeks: each bin has a size,
a place that is busy or quiet, a rhythm (commuters on weekdays, strollers at
weekends, shoppers every day) and the odd event that fills it fast."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from sim.district import SimBin

CAPACITY_L = {"140L": 140.0, "240L": 240.0, "360L": 360.0}

# Relative use through the day, midnight first; each averages 1 over a day.
_COMMUTE = [0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 1.6, 3.0, 2.6, 1.2, 0.8, 1.0,
            1.4, 1.0, 0.9, 1.3, 2.4, 2.8, 1.6, 0.9, 0.6, 0.4, 0.3, 0.2]
_DAYTIME = [0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.4, 1.7, 2.0,
            2.2, 2.1, 2.0, 1.9, 1.8, 1.7, 1.5, 1.2, 0.9, 0.6, 0.4, 0.2]
RHYTHMS = {
    # name: (hourly shape, weekday factor, weekend factor)
    "commute": (_COMMUTE, 1.25, 0.4),
    "leisure": (_DAYTIME, 0.75, 1.6),
    "centre": (_DAYTIME, 1.0, 1.0),
}


# A street bin takes from two days to two weeks to fill on an average day
# (log-uniform between these); on about one day in a hundred something nearby
# doubles its use.
DAYS_TO_FULL = (2.5, 14.0)
EVENT_CHANCE = 0.01
EVENT_FACTOR = 2.0


def _normalised(shape: list[float]) -> list[float]:
    s = sum(shape) / 24
    return [v / s for v in shape]


@dataclass
class FillProfile:
    node_id: str
    capacity_l: float
    litres_per_day: float  # on an average day
    rhythm: str
    event_days: frozenset[int]  # days with a market, a match, a festival nearby
    initial_pct: float = 0.0

    def litres_in_hour(self, hour_index: int) -> float:
        day, hour = divmod(hour_index, 24)
        shape, weekday_f, weekend_f = RHYTHMS[self.rhythm]
        weekend = day % 7 >= 5
        factor = weekend_f if weekend else weekday_f
        if day in self.event_days:
            factor *= EVENT_FACTOR
        return self.litres_per_day / 24 * _normalised(shape)[hour] * factor


def profiles(bins: list[SimBin], days: int, seed: int = 1) -> list[FillProfile]:
    """Day 0 is a Monday."""
    rng = random.Random(seed)
    out = []
    for b in bins:
        capacity = CAPACITY_L.get(b.kind, 240.0)
        days_to_full = math.exp(rng.uniform(math.log(DAYS_TO_FULL[0]), math.log(DAYS_TO_FULL[1])))
        events = frozenset(d for d in range(days) if rng.random() < EVENT_CHANCE)
        out.append(FillProfile(b.node_id, capacity, capacity / days_to_full,
                               rng.choice(list(RHYTHMS)), events, b.initial_fill_pct))
    return out
