"""Four simulated weeks of 120 bins in Norrmalm (data/norrmalm, OpenStreetMap:
its 30 waste baskets and 90 street addresses) under a fixed daily schedule,
the gateway's forecast-driven plan, and an oracle that knows every bin's
future; each day's emptyings routed by the gateway's planner along the
district's streets (one-way streets kept), from a depot in the district.

The kilometre targets follow from the emptying targets: a round through n
bins spread over a district is about sqrt(n) long (Beardwood-Halton-Hammersley),
so 0.30x the emptyings of a fixed round is worth about sqrt(0.30) = 0.55x its
kilometres, and 1.15x the oracle's emptyings at most sqrt(1.15) = 1.07x its
kilometres (1.10 allowed for the search's noise). Straight-line estimates
would flatter neither: both sides are driven along the same streets. One
basket, at the extract's western edge, is more than 150 m from every
drivable street in the file; the planner reaches it by its straight-line
estimate, as it does any such bin."""

from __future__ import annotations

from bench.report import line
from sim import norrmalm
from sim.fill_model import profiles
from sim.waste import Fleet, compare, route_days

BINS = 120
DAYS = 28
# Two trucks of 20 m3 loose rubbish each: the fixed round's 120 bins (about
# 30,000 L) fit in one trip each.
FLEET = Fleet(norrmalm.DEPOT, trucks=2, capacity_l=20_000, shift_h=8.0)
# Seconds of route search per day: plans of a few dozen stops converge long
# before; the fixed round's 120 stops come within about 2 % of a 1 s search.
ROUTE_S = 0.5


def run() -> list[str]:
    district = norrmalm.build(BINS, 0, 1, seed=1)
    fills = profiles(district.bins, DAYS, seed=1)
    fixed, ours, oracle = compare(fills, DAYS, seed=1)
    positions = {b.node_id: (b.lat, b.lon) for b in district.bins}
    streets = norrmalm.driving_streets()
    for result in (fixed, ours, oracle):
        route_days(result, fills, positions, FLEET, ROUTE_S, streets=streets)
        if result.unrouted:
            raise RuntimeError(f"{result.name}: {result.unrouted} emptyings found no truck; "
                               "the fleet is too small for the comparison")
    return [
        line("waste.emptyings_of_fixed_schedule", ours.emptyings / fixed.emptyings, "x",
             "<=", 0.30),
        line("waste.emptyings_of_oracle", ours.emptyings / oracle.emptyings, "x", "<=", 1.15),
        line("waste.overflow_bin_days_share", ours.overflow_share * 100, "%", "<=", 0.1),
        line("waste.norrmalm_street_km_of_fixed_schedule", ours.truck_km / fixed.truck_km, "x",
             "<=", 0.55),
        line("waste.norrmalm_street_km_of_oracle", ours.truck_km / oracle.truck_km, "x",
             "<=", 1.10),
    ]
