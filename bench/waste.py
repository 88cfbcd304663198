"""Four simulated weeks of about 120 bins under a fixed daily schedule, the
gateway's forecast-driven plan, and an oracle that knows every bin's future."""

from __future__ import annotations

from bench.report import line
from sim.district import build
from sim.fill_model import profiles
from sim.waste import compare

BINS = 120
DAYS = 28


def run() -> list[str]:
    fills = profiles(build(BINS, 0, 1, seed=1).bins, DAYS, seed=1)
    fixed, ours, oracle = compare(fills, DAYS, seed=1)
    return [
        line("waste.emptyings_of_fixed_schedule", ours.emptyings / fixed.emptyings, "x",
             "<=", 0.30),
        line("waste.emptyings_of_oracle", ours.emptyings / oracle.emptyings, "x", "<=", 1.15),
        line("waste.overflow_bin_days_share", ours.overflow_share * 100, "%", "<=", 0.1),
    ]
