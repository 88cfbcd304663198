"""Routes along Norrmalm's real streets (data/norrmalm, OpenStreetMap): what
the streets change against the straight-line estimate on the same bins, and
what the driving matrices cost at a town's and a city's number of bins."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from bench.report import line
from gateway.streets.driving import DrivingStreets
from gateway.streets.geometry import METRES_PER_DEGREE, read_streets
from gateway.waste.routing import Matrix, RoutePlan, Stop, Truck, plan_routes, travel_matrices

DATA = Path(__file__).resolve().parent.parent / "data" / "norrmalm"
DEPOT = (59.3405, 18.0700)  # near the middle of the extract
TRUCKS = 4


def bins_on_streets(streets: DrivingStreets, n: int, seed: int) -> list[Stop]:
    """n bins beside the drivable streets, spread by length, up to 8 m off."""
    rng = random.Random(seed)
    lengths = [st.length for st in streets.streets]
    lat0, lon0 = streets.origin
    k = METRES_PER_DEGREE * np.cos(np.radians(lat0))
    stops = []
    for i in range(n):
        st = rng.choices(streets.streets, weights=lengths)[0]
        at = rng.uniform(0, st.length)
        j = max(0, int(np.searchsorted(st.cum, at, side="right")) - 1)
        j = min(j, len(st.points) - 2)
        f = (at - st.cum[j]) / max(st.cum[j + 1] - st.cum[j], 1e-9)
        (x0, y0), (x1, y1) = st.points[j], st.points[j + 1]
        x = x0 + f * (x1 - x0) + rng.uniform(-8, 8)
        y = y0 + f * (y1 - y0) + rng.uniform(-8, 8)
        stops.append(Stop(f"S{i:04d}", lat0 + y / METRES_PER_DEGREE, lon0 + x / k,
                          litres=60, service_s=45))
    return stops


def driven_km(plan: RoutePlan, dist: Matrix, index: dict[str, int]) -> float:
    total = 0
    for r in plan.routes:
        path = [0] + [index[s.node_id] for s in r.stops] + [0]
        total += int(dist[path[:-1], path[1:]].sum()) if r.stops else 0
    return total / 1000


def compare(stops: list[Stop], streets: DrivingStreets, trucks: list[Truck],
            limit_s: float) -> tuple[float, float, float]:
    """(straight-line estimate km, that plan driven along the streets km,
    the plan made along the streets km) for the same bins."""
    straight = plan_routes(DEPOT, stops, trucks, time_limit_s=limit_s)
    along = plan_routes(DEPOT, stops, trucks, time_limit_s=limit_s, streets=streets)
    dist, _ = travel_matrices([DEPOT] + [(s.lat, s.lon) for s in stops], 1.3, 25.0, streets)
    index = {s.node_id: i for i, s in enumerate(stops, start=1)}
    estimate = sum(r.distance_m for r in straight.routes) / 1000
    return estimate, driven_km(straight, dist, index), sum(
        r.distance_m for r in along.routes) / 1000


def run() -> list[str]:
    streets = DrivingStreets(read_streets((DATA / "streets.geojson").read_text()))
    baskets = json.loads((DATA / "waste-baskets.geojson").read_text())["features"]
    real = [Stop(f"N{i:04d}", f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0],
                 litres=60, service_s=45) for i, f in enumerate(baskets, start=1)]
    out = []
    one = [Truck("truck-1", 10_000, 8 * 3600)]
    estimate, driven, along = compare(real, streets, one, 2.0)
    out += [
        line("waste.norrmalm_30_baskets_street_km_of_straight_estimate", along / estimate, "x",
             ">=", 1.0),
        line("waste.norrmalm_30_baskets_street_plan_of_straight_plan_driven", along / driven,
             "x", "<=", 1.0),
    ]
    generated = bins_on_streets(streets, 300, seed=3)
    trucks = [Truck(f"truck-{k}", 10_000, 8 * 3600) for k in (1, 2)]
    estimate, driven, along = compare(generated, streets, trucks, 5.0)
    out += [
        line("waste.norrmalm_300_bins_street_km_of_straight_estimate", along / estimate, "x",
             ">=", 1.0),
        line("waste.norrmalm_300_bins_street_plan_of_straight_plan_driven", along / driven,
             "x", "<=", 1.0),
    ]
    for n, target in ((1375, 3.0), (5000, 15.0)):
        points = [DEPOT] + [(s.lat, s.lon) for s in bins_on_streets(streets, n, seed=n)]
        started = time.perf_counter()
        travel_matrices(points, 1.3, 25.0, streets)
        out.append(line(f"waste.street_matrix_{n}_bins", time.perf_counter() - started, "s",
                        "<", target))
    city = bins_on_streets(streets, 1375, seed=1375)
    fleet = [Truck(f"truck-{k}", 30_000, 8 * 3600) for k in range(1, TRUCKS + 1)]
    started = time.perf_counter()
    plan_routes(DEPOT, city, fleet, streets=streets)
    out.append(line(f"waste.plan_1375_bins_on_streets_{TRUCKS}_trucks",
                    time.perf_counter() - started, "s", "<", 30))
    return out
