"""The daily plan: which bins must be emptied before the next service window,
and which are worth taking because the truck passes them anyway."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.waste.forecast import HOUR, Forecaster


@dataclass(frozen=True)
class PlanSettings:
    # Latest time the next service can reach a bin, counted from the start of
    # today's shift: tomorrow's shift start plus its length.
    next_service_h: float = 24 + 8
    # A bin must be emptied today if it could be this full before then...
    must_level_pct: float = 97.0
    # ...by an upper estimate this many standard deviations above the
    # expected fill. These two were chosen on simulated districts (make bench
    # ONLY=waste): overflow on at most 0.1 % of bin-days at the fewest
    # emptyings.
    z: float = 0.75
    # A bin is worth a detour when it will be at least this full by then...
    optional_level_pct: float = 60.0
    # ...and its prize (per full bin) in the routing's cost unit, metres.
    full_bin_prize_m: float = 1500.0


DEFAULT_PLAN = PlanSettings()


@dataclass(frozen=True)
class Candidate:
    node_id: str
    expected_pct: float  # expected level at the next service time
    upper_pct: float
    required: bool
    prize_m: float  # what taking an optional bin is worth, in metres of driving


def select(forecaster: Forecaster, node_ids: Iterable[str], shift_start: float,
           settings: PlanSettings = DEFAULT_PLAN) -> list[Candidate]:
    """Bins for today's plan, required first, most urgent first. A bin that
    has never reported is required: nothing is known of it."""
    horizon = shift_start + settings.next_service_h * HOUR
    chosen: list[Candidate] = []
    for node_id in node_ids:
        expected = forecaster.level_at(node_id, horizon)
        if math.isnan(expected):
            chosen.append(Candidate(node_id, math.nan, math.nan, True, 0.0))
            continue
        upper = forecaster.level_at(node_id, horizon, settings.z)
        if upper >= settings.must_level_pct:
            chosen.append(Candidate(node_id, expected, upper, True, 0.0))
        elif expected >= settings.optional_level_pct:
            prize = settings.full_bin_prize_m * min(expected, 100.0) / 100.0
            chosen.append(Candidate(node_id, expected, upper, False, prize))
    chosen.sort(key=lambda c: (not c.required, -(c.upper_pct if c.upper_pct == c.upper_pct
                                                  else 1e9)))
    return chosen
