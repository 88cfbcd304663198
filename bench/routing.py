"""A day's plan for a whole city: all 1,375 bins of Gävle's open data (or, in
a clone without that file, 1,375 bins spread over a town of the same size)
with four trucks."""

from __future__ import annotations

import math
import random
import statistics
import time
from pathlib import Path

from bench.report import line
from gateway.waste.bin_import import read_bins
from gateway.waste.bin_types import Catalogue
from gateway.waste.routing import Stop, Truck, plan_routes
from gateway.waste.stops import stops_for_all_bins

GAVLE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" \
    / "gavle-papperskorgar.geojson"
TRUCKS = 4


def city_stops() -> tuple[str, list[Stop]]:
    catalogue = Catalogue.default()
    if GAVLE.exists():
        return "gavle", stops_for_all_bins(read_bins(GAVLE, "G", catalogue).nodes, catalogue)
    rng = random.Random(1)
    stops = []
    for i in range(1375):
        r, a = 6000 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        lat = 60.675 + r * math.sin(a) / 111_320
        lon = 17.14 + r * math.cos(a) / (111_320 * math.cos(math.radians(60.675)))
        stops.append(Stop(f"S{i:04d}", lat, lon, litres=120, service_s=60))
    return "synthetic", stops


def run() -> list[str]:
    name, stops = city_stops()
    depot = (statistics.median(s.lat for s in stops), statistics.median(s.lon for s in stops))
    # A day's plan as the forecast makes it: about a quarter of the bins
    # must go, another quarter are worth a detour.
    rng = random.Random(2)
    day = []
    for s in stops:
        roll = rng.random()
        if roll < 0.25:
            day.append(s)
        elif roll < 0.5:
            day.append(Stop(s.node_id, s.lat, s.lon, s.litres, required=False, prize=1500,
                            service_s=s.service_s, kind=s.kind))
    trucks = [Truck(f"truck-{k}", 30_000, 8 * 3600) for k in range(1, TRUCKS + 1)]
    started = time.perf_counter()
    plan_routes(depot, stops, trucks)
    all_s = time.perf_counter() - started
    started = time.perf_counter()
    daily = plan_routes(depot, day, trucks)
    daily_s = time.perf_counter() - started
    required = sum(s.required for s in day)
    served_required = required - len(daily.unserved)
    return [
        line(f"waste.plan_all_{len(stops)}_{name}_bins_{TRUCKS}_trucks", all_s, "s", "<", 30),
        line(f"waste.plan_daily_{len(day)}_of_{len(stops)}_{name}_bins", daily_s, "s", "<", 30),
        line("waste.daily_required_bins_served", served_required / required, "share", ">=",
             1.0),
    ]
