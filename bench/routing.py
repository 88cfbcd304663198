"""Route planning at a city's scale, each plan at the router's default
budget (it grows with the number of stops):

- a day's plan for a whole city: all 1,375 bins of Gävle's open data (or, in
  a clone without that file, 1,375 bins spread over a town of the same size)
  with four trucks;
- 5,000 generated bins, against a five-minute plan of the same bins (made
  once and kept in bench/data/waste-5000-reference.json: five minutes of
  search is too long for every run; delete the file to make it again);
- published CVRP instances (Uchoa et al.'s X set, bench/data/cvrplib/,
  read with vrplib) against their best-known costs."""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from pathlib import Path

import numpy as np
import vrplib

from bench.report import line
from gateway.waste.bin_import import read_bins
from gateway.waste.bin_types import Catalogue
from gateway.waste.routing import Stop, Truck, plan_routes, solve_routes
from gateway.waste.stops import stops_for_all_bins

DATA = Path(__file__).resolve().parent / "data"
GAVLE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" \
    / "gavle-papperskorgar.geojson"
TRUCKS = 4
# 5,000 bins of 120 L, a minute each, over a town 12 km across, for 20 trucks of
# 40,000 L and eight hours: every bin fits, so the two plans differ only in km.
BIG_BINS = 5000
BIG_TRUCKS = 20
REFERENCE = DATA / "waste-5000-reference.json"
REFERENCE_S = 300.0
CVRP = DATA / "cvrplib"
CVRP_INSTANCES = ("X-n101-k25", "X-n157-k13", "X-n209-k16", "X-n256-k16", "X-n303-k21")


def town(n: int, seed: int, radius_m: float = 6000) -> list[Stop]:
    rng = random.Random(seed)
    stops = []
    for i in range(n):
        r, a = radius_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        lat = 60.675 + r * math.sin(a) / 111_320
        lon = 17.14 + r * math.cos(a) / (111_320 * math.cos(math.radians(60.675)))
        stops.append(Stop(f"S{i:04d}", lat, lon, litres=120, service_s=60))
    return stops


def city_stops() -> tuple[str, list[Stop]]:
    catalogue = Catalogue.default()
    if GAVLE.exists():
        return "gavle", stops_for_all_bins(read_bins(GAVLE, "G", catalogue).nodes, catalogue)
    return "synthetic", town(1375, seed=1)


def middle(stops: list[Stop]) -> tuple[float, float]:
    return (statistics.median(s.lat for s in stops), statistics.median(s.lon for s in stops))


def city() -> list[str]:
    name, stops = city_stops()
    depot = middle(stops)
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


def big_problem() -> tuple[tuple[float, float], list[Stop], list[Truck]]:
    stops = town(BIG_BINS, seed=5)
    trucks = [Truck(f"truck-{k}", 40_000, 8 * 3600) for k in range(1, BIG_TRUCKS + 1)]
    return middle(stops), stops, trucks


def plan_km(time_limit_s: float | None) -> tuple[float, float, int]:
    """(km, seconds, bins served) of a plan of the 5,000 bins."""
    depot, stops, trucks = big_problem()
    started = time.perf_counter()
    plan = plan_routes(depot, stops, trucks, time_limit_s=time_limit_s)
    seconds = time.perf_counter() - started
    return sum(r.distance_km for r in plan.routes), seconds, plan.stops_served


def reference_km() -> float:
    """The five-minute plan's km, made once (about six minutes) and kept."""
    key = {"bins": BIG_BINS, "trucks": BIG_TRUCKS, "seed": 5, "time_limit_s": REFERENCE_S}
    if REFERENCE.exists():
        kept = json.loads(REFERENCE.read_text())
        if kept.get("problem") == key:
            return float(kept["km"])
    km, seconds, served = plan_km(REFERENCE_S)
    REFERENCE.write_text(json.dumps({"problem": key, "km": round(km, 3), "served": served,
                                     "seconds": round(seconds, 1)}, indent=1) + "\n")
    return km


def big() -> list[str]:
    km, seconds, served = plan_km(None)
    ref = reference_km()
    return [
        line(f"waste.plan_{BIG_BINS}_generated_bins", seconds, "s", "<", 60),
        line(f"waste.plan_{BIG_BINS}_generated_bins_served", served / BIG_BINS, "share", ">=",
             1.0),
        line(f"waste.plan_{BIG_BINS}_km_of_a_five_minute_plan", km / ref, "x", "<=", 1.05),
    ]


def cvrp_gap(name: str) -> tuple[float, float]:
    """(cost / best-known cost, seconds) of the router on one instance."""
    instance = vrplib.read_instance(str(CVRP / f"{name}.vrp"))
    best = float(vrplib.read_solution(str(CVRP / f"{name}.sol"))["cost"])
    # CVRPLIB's convention: distances rounded to whole numbers.
    dist = np.rint(instance["edge_weight"]).astype(np.int64)
    demand = instance["demand"]
    n = len(demand) - 1
    stops = [Stop(f"c{i}", 0.0, 0.0, int(demand[i]), service_s=0) for i in range(1, n + 1)]
    # As many trucks as customers: the fleet is free, as in the instances.
    trucks = [Truck(f"v{k}", int(instance["capacity"]), 10**9) for k in range(n)]
    started = time.perf_counter()
    visits = solve_routes(stops, trucks, dist, np.zeros_like(dist))
    seconds = time.perf_counter() - started
    served = sorted(i for v in visits for i in v)
    if served != list(range(n)):
        return math.inf, seconds
    cost = 0
    for v in visits:
        nodes = [0] + [i + 1 for i in v] + [0]
        cost += int(dist[nodes[:-1], nodes[1:]].sum()) if v else 0
    return cost / best, seconds


def cvrplib() -> list[str]:
    lines, gaps = [], []
    for name in CVRP_INSTANCES:
        ratio, seconds = cvrp_gap(name)
        gaps.append(ratio - 1)
        lines.append(line(f"waste.cvrp_{name}_above_best_known", (ratio - 1) * 100, "%",
                          "<=", 1.5))
        lines.append(line(f"waste.cvrp_{name}_seconds", seconds, "s", "<", 60))
    lines.append(line("waste.cvrp_x_instances_mean_above_best_known",
                      statistics.mean(gaps) * 100, "%", "<=", 1.5))
    return lines


def run() -> list[str]:
    return city() + big() + cvrplib()
