"""Routes for the crews that empty litter bins, planned with PyVRP.

Units. PyVRP works in integers: distances are whole metres, durations whole
seconds, loads whole litres of loose rubbish. With the district's streets
(gateway/streets/driving.py) the distance between two points is the
shortest drive along them, one-way streets respected; a point more than
150 m from every drivable street, or with no streets imported, gets the
great-circle (haversine) distance times a circuity factor instead (streets
are not straight lines; 1.3 is typical of a town), and the plan names those
points. The driving time is the distance at a town speed (25 km/h, which
counts junctions and traffic lights).

Objective. Metres driven, minus the prizes of the optional stops visited. A
prize is therefore in metres of driving: an optional bin with prize 800 is
worth a detour of up to 800 m (about 2 minutes at 25 km/h), and is left out
when reaching it costs more. Required stops are PyVRP required clients.

When the required stops do not all fit (the shifts are too short, the trucks
too small), PyVRP can only return an infeasible plan. The planner then solves
again with the required stops as optional ones whose prize outweighs any
detour, so that as many as possible are served, and names those left out.
Whatever the solver returns, the plan handed out never exceeds a truck's
capacity or shift: that is checked, and repaired if needed, here.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyvrp
from pyvrp import Model
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MultipleCriteria, NoImprovement

from gateway.streets.driving import SNAP_M, DrivingStreets

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_CIRCUITY = 1.3
DEFAULT_SPEED_KMH = 25.0
# Seconds of route search per plan. With all 1,375 of Gävle's bins and four
# trucks on a 2-core machine, a plan takes 11-14 s in all with this limit
# (building the matrices and PyVRP's first local search come on top); 3 s
# gives routes 12 % longer, 20 s about the same as 10. See bench/routing.py.
DEFAULT_TIME_LIMIT_S = 10.0
# PyVRP's cost of an infeasible solution (the largest int64).
INFEASIBLE_COST = np.iinfo(np.int64).max
# A small plan converges in well under a second; stop once this many
# iterations in a row have found nothing better.
NO_IMPROVEMENT_ITERATIONS = 3000

Matrix = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Stop:
    node_id: str
    lat: float
    lon: float
    litres: int  # loose litres to collect; a full compactor gives 5x its volume
    required: bool = True
    prize: int = 0  # optional stops: metres of driving a visit is worth
    service_s: int = 60  # at the bin, per emptying
    kind: str = ""  # bin type
    expected_fill_pct: float | None = None
    address: str = ""  # where the crew finds it: the bin's address, or a street and crossing


@dataclass(frozen=True)
class Truck:
    name: str
    capacity_l: int  # loose litres
    shift_s: int  # from leaving the depot to returning


@dataclass(frozen=True)
class TruckRoute:
    truck: Truck
    stops: tuple[Stop, ...]  # in the order the crew visits them
    distance_m: int
    driving_s: int
    service_s: int
    load_l: int

    @property
    def distance_km(self) -> float:
        return self.distance_m / 1000

    @property
    def duration_s(self) -> int:
        return self.driving_s + self.service_s


@dataclass(frozen=True)
class Unserved:
    stop: Stop
    reason: str


@dataclass
class RoutePlan:
    depot: tuple[float, float] | None  # (lat, lon)
    # One per truck that can take a bin, in the order given, even if it has no stops.
    routes: list[TruckRoute] = field(default_factory=list)
    unserved: list[Unserved] = field(default_factory=list)  # required stops on no route
    # One line each: what is wrong with the input or the plan, and what to change.
    problems: list[str] = field(default_factory=list)
    optional_left: int = 0  # optional stops not worth their detour, or with no room
    seconds: float = 0.0  # wall time of planning
    # How the distances were measured: "streets" (along them) or "straight line".
    distances: str = "straight line"
    straight_line: list[str] = field(default_factory=list)  # bins off the streets

    @property
    def stops_served(self) -> int:
        return sum(len(r.stops) for r in self.routes)


def haversine_m(lat1: npt.NDArray[np.float64], lon1: npt.NDArray[np.float64],
                lat2: npt.NDArray[np.float64], lon2: npt.NDArray[np.float64],
                ) -> npt.NDArray[np.float64]:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    metres: npt.NDArray[np.float64] = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return metres


def travel_matrices(points: Sequence[tuple[float, float]], circuity: float,
                    speed_kmh: float, streets: DrivingStreets | None = None
                    ) -> tuple[Matrix, Matrix]:
    """Distance (m) and driving time (s) between every two (lat, lon) points:
    along the streets where both are on them, else the straight-line estimate."""
    return _matrices(points, circuity, speed_kmh, streets)[:2]


def _matrices(points: Sequence[tuple[float, float]], circuity: float, speed_kmh: float,
              streets: DrivingStreets | None) -> tuple[Matrix, Matrix, list[tuple[int, float]]]:
    """travel_matrices, and (index, metres to the nearest drivable street) of
    each point that got the straight-line estimate for want of a street."""
    lat = np.array([p[0] for p in points], dtype=np.float64)
    lon = np.array([p[1] for p in points], dtype=np.float64)
    off: list[tuple[int, float]] = []
    if streets is None or not len(points):
        metres = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) * circuity
    else:
        metres, snapped = streets.distances(points)
        # The estimate only where it is needed: a city's full matrix of
        # great-circle distances takes longer than the one along the streets.
        far = np.flatnonzero(snapped.piece < 0)
        off = [(int(i), float(snapped.offset[i])) for i in far]
        if len(far):
            metres[far, :] = haversine_m(lat[far, None], lon[far, None], lat[None, :],
                                         lon[None, :]) * circuity
            metres[:, far] = haversine_m(lat[:, None], lon[:, None], lat[None, far],
                                         lon[None, far]) * circuity
        # A pair with no way between them along the streets (none, as the
        # streets keep one connected part; but never an infinite distance).
        gaps = ~np.isfinite(metres)
        if gaps.any():
            rows, cols = np.nonzero(gaps)
            metres[rows, cols] = haversine_m(lat[rows], lon[rows], lat[cols],
                                             lon[cols]) * circuity
    dist = np.rint(metres, out=metres).astype(np.int64)
    metres /= speed_kmh / 3.6
    dur = np.rint(metres, out=metres).astype(np.int64)
    return dist, dur, off


def plan_routes(depot: tuple[float, float] | None, stops: Sequence[Stop],
                trucks: Sequence[Truck], *, circuity: float = DEFAULT_CIRCUITY,
                speed_kmh: float = DEFAULT_SPEED_KMH,
                time_limit_s: float = DEFAULT_TIME_LIMIT_S, seed: int = 0,
                streets: DrivingStreets | None = None) -> RoutePlan:
    """Plan a shift's routes, along the streets when given. Bad input is
    reported in plan.problems (and each required stop that cannot be served
    in plan.unserved); the rest is planned."""
    if not circuity >= 1:
        raise ValueError(f"circuity must be at least 1, got {circuity}")
    if not 1 <= speed_kmh <= 130:
        raise ValueError(f"speed must be 1..130 km/h, got {speed_kmh}")
    if not time_limit_s > 0:
        raise ValueError(f"time limit must be positive, got {time_limit_s}")
    started = time.perf_counter()
    plan = RoutePlan(depot)

    def leave(stop: Stop, reason: str) -> None:
        if stop.required:
            plan.unserved.append(Unserved(stop, reason))
        else:
            plan.optional_left += 1

    good_stops = _checked_stops(stops, plan.problems, leave)
    good_trucks = _checked_trucks(trucks, plan.problems)
    if depot is None or not _valid_position(*depot):
        plan.problems.append(
            "depot missing: give the depot's position as LAT,LON in degrees"
            + ("" if depot is None else f", got {depot}"))
        for s in good_stops:
            leave(s, "no depot to plan from")
        return _finish(plan, started)
    if not good_trucks:
        plan.problems.append("no trucks: give at least one truck with a capacity in litres "
                             "and a shift length")
        for s in good_stops:
            leave(s, "no trucks")
        return _finish(plan, started)
    if not good_stops:
        plan.routes = [TruckRoute(t, (), 0, 0, 0, 0) for t in good_trucks]
        return _finish(plan, started)

    smallest = min(good_stops, key=lambda s: s.litres)
    largest = max(good_stops, key=lambda s: s.litres)
    usable = []
    for t in good_trucks:
        if t.capacity_l < smallest.litres:
            plan.problems.append(
                f"truck {t.name!r} holds {t.capacity_l} L, less than any bin (the smallest, "
                f"{smallest.node_id}, needs {smallest.litres} L; the largest, {largest.node_id}, "
                f"{largest.litres} L): raise its capacity; it has no route")
        else:
            usable.append(t)
    plan.routes = [TruckRoute(t, (), 0, 0, 0, 0) for t in usable]
    if not usable:
        for s in good_stops:
            leave(s, "no truck can hold it")
        return _finish(plan, started)

    biggest = max(t.capacity_l for t in usable)
    fitting = []
    for s in good_stops:
        if s.litres > biggest:
            if s.required:
                plan.problems.append(
                    f"bin {s.node_id} needs {s.litres} L, more than the largest truck holds "
                    f"({biggest} L): empty it separately or use a larger truck")
            leave(s, f"needs {s.litres} L, more than any truck holds ({biggest} L)")
        else:
            fitting.append(s)

    dist, dur, off = _matrices([depot] + [(s.lat, s.lon) for s in fitting], circuity, speed_kmh,
                               streets)
    if streets is not None:
        _note_off_streets(plan, off, fitting, circuity)
    longest_shift = max(t.shift_s for t in usable)
    reachable = []
    for i, s in enumerate(fitting, start=1):
        alone = int(dur[0, i] + dur[i, 0]) + s.service_s
        if alone > longest_shift:
            if s.required:
                plan.problems.append(
                    f"bin {s.node_id} alone takes {_hours(alone)} from the depot and back, longer "
                    f"than the longest shift ({_hours(longest_shift)}): lengthen the shift or "
                    "serve it from elsewhere")
            leave(s, f"a round trip to it takes {_hours(alone)}, longer than any shift")
        else:
            reachable.append(i)
    keep = [0] + reachable
    dist, dur = dist[np.ix_(keep, keep)], dur[np.ix_(keep, keep)]
    candidates = [fitting[i - 1] for i in reachable]

    visits = _solve_with_fallback(depot, candidates, usable, dist, dur, time_limit_s, seed)
    visits = [_repair(v, candidates, t, dist, dur) for v, t in zip(visits, usable, strict=True)]
    visits = [_prune_optional(v, candidates, dist) for v in visits]

    plan.routes = [_measure(t, v, candidates, dist, dur)
                   for t, v in zip(usable, visits, strict=True)]
    routed = {i for v in visits for i in v}
    left = [s for i, s in enumerate(candidates) if i not in routed]
    _explain_left_out(plan, left, candidates, usable)
    return _finish(plan, started)


def _note_off_streets(plan: RoutePlan, off: list[tuple[int, float]], stops: list[Stop],
                      circuity: float) -> None:
    if len(off) <= len(stops):  # some along the streets (the streets may be another town's)
        plan.distances = "streets"
    # The depot is left unnamed: a yard off the streets is nothing to correct.
    far = [(stops[i - 1].node_id, m) for i, m in off if i]
    if not far:
        return
    plan.straight_line = [name for name, _ in far]
    shown = ", ".join(f"{name} ({f'{m:.0f} m' if math.isfinite(m) else f'over {SNAP_M:.0f} m'})"
                      for name, m in far[:10])
    if len(far) > 10:
        shown += f" and {len(far) - 10} more"
    plan.problems.append(
        f"{len(far)} bin(s) more than {SNAP_M:.0f} m from every drivable street, their "
        f"distances estimated as straight lines x {circuity:g}: {shown}: correct their "
        "positions, or import streets that reach them")


def _finish(plan: RoutePlan, started: float) -> RoutePlan:
    plan.seconds = time.perf_counter() - started
    return plan


def _valid_position(lat: object, lon: object) -> bool:
    for value, limit in ((lat, 90), (lon, 180)):
        # NaN fails the comparison too.
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not -limit <= value <= limit:
            return False
    return True


def _is_whole(value: object, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _whole(value: object, lo: int, hi: int, *, up: bool = False) -> int | None:
    """value as a whole number in lo..hi, or None. PyVRP needs integers, but a
    forecast naturally gives litres as a float: those are rounded (litres up,
    so that a truck is never planned fuller than it is)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = math.ceil(value) if up else round(value)
    return value if lo <= value <= hi else None


def _checked_stops(stops: Sequence[Stop], problems: list[str],
                   leave: Callable[[Stop, str], None]) -> list[Stop]:
    seen: set[str] = set()
    good = []
    for s in stops:
        if s.node_id in seen:
            problems.append(f"bin {s.node_id} is listed twice: planned once")
            continue
        seen.add(s.node_id)
        litres = _whole(s.litres, 0, 10**9, up=True)
        service_s = _whole(s.service_s, 0, 86_400)
        prize = _whole(s.prize, 0, 10**9)
        why = None
        if not _valid_position(s.lat, s.lon):
            why = f"position ({s.lat}, {s.lon}) is not a latitude, longitude in degrees"
        elif litres is None:
            why = f"litres must be a number 0 or more, got {s.litres!r}"
        elif service_s is None:
            why = f"service time must be seconds 0..86400, got {s.service_s!r}"
        elif prize is None:
            why = f"prize must be metres 0 or more, got {s.prize!r}"
        if why is not None:
            problems.append(f"bin {s.node_id}: {why}; left out: correct it in the registry")
            leave(s, why)
            continue
        assert litres is not None and service_s is not None and prize is not None
        good.append(replace(s, litres=litres, service_s=service_s, prize=prize))
    return good


def _checked_trucks(trucks: Sequence[Truck], problems: list[str]) -> list[Truck]:
    seen: set[str] = set()
    good = []
    for t in trucks:
        if not t.name or t.name in seen:
            problems.append(f"truck {t.name!r}: "
                            + ("is listed twice" if t.name else "has no name")
                            + "; left out: give every truck its own name")
            continue
        seen.add(t.name)
        if not _is_whole(t.capacity_l, 1, 10**9):
            problems.append(f"truck {t.name!r}: capacity must be whole litres above 0, "
                            f"got {t.capacity_l!r}; left out")
        elif not _is_whole(t.shift_s, 1, 7 * 86_400):
            problems.append(f"truck {t.name!r}: shift must be whole seconds above 0, "
                            f"got {t.shift_s!r}; left out")
        else:
            good.append(t)
    return good


class _Budget:
    """Stops the search at the time limit; or, when no plan serving every
    required stop has turned up by give_up_s, early: they then most likely do
    not fit, and the time is better spent choosing which to leave out."""

    def __init__(self, limit_s: float, give_up_s: float) -> None:
        self.limit_s = limit_s
        self.give_up_s = give_up_s
        self.start: float | None = None

    def elapsed(self) -> float:
        return 0.0 if self.start is None else time.perf_counter() - self.start

    def __call__(self, best_cost: int) -> bool:
        if self.start is None:
            self.start = time.perf_counter()
        elapsed = self.elapsed()
        return elapsed > self.limit_s or (best_cost >= INFEASIBLE_COST
                                          and elapsed > self.give_up_s)


def _solve_with_fallback(depot: tuple[float, float], stops: list[Stop], trucks: list[Truck],
                         dist: Matrix, dur: Matrix, time_limit_s: float,
                         seed: int) -> list[list[int]]:
    """Per truck, the indices into stops it visits, in order."""
    required = [i for i, s in enumerate(stops) if s.required]
    if not stops:
        return [[] for _ in trucks]
    spent = 0.0
    first: list[list[int]] | None = None
    if _may_fit(stops, required, trucks, dur):
        budget = _Budget(time_limit_s, give_up_s=0.4 * time_limit_s)
        first, feasible = _solve(depot, stops, list(range(len(stops))), trucks, dist, dur,
                                 budget, seed, salvage=False, initial=None)
        if feasible or not required:
            return first
        spent = budget.elapsed()
    # The required stops do not all fit. Plan only them (optional stops would
    # take room the required ones need), each worth more than any detour, so
    # the solver serves as many as it can.
    remaining = max(time_limit_s - spent, 0.3 * time_limit_s)
    warm = None if first is None else [[i for i in v if stops[i].required] for v in first]
    routes, _ = _solve(depot, stops, required, trucks, dist, dur,
                       _Budget(remaining, give_up_s=remaining), seed, salvage=True, initial=warm)
    return routes


def _may_fit(stops: list[Stop], required: list[int], trucks: list[Truck], dur: Matrix) -> bool:
    """False when the required stops certainly cannot all be served: more
    litres than all the trucks hold, or more time than all the shifts give,
    counting for each stop only its service and the shortest way to reach it."""
    if sum(stops[i].litres for i in required) > sum(t.capacity_l for t in trucks):
        return False
    if not required:
        return True
    cols = [i + 1 for i in required]
    into = dur[:, cols].astype(np.float64)
    into[cols, range(len(cols))] = np.inf  # not from itself
    least = float(into.min(axis=0).sum()) + sum(stops[i].service_s for i in required)
    return least <= sum(t.shift_s for t in trucks)


def _solve(depot: tuple[float, float], stops: list[Stop], chosen: list[int],
           trucks: list[Truck], dist: Matrix, dur: Matrix, budget: _Budget, seed: int, *,
           salvage: bool,
           initial: list[list[int]] | None) -> tuple[list[list[int]], bool]:
    """Solve for the chosen stops; returns the visits per truck (indices into
    stops) and whether PyVRP found them feasible."""
    # A left-out required stop must cost more than any detour to it could.
    must = 2 * int(dist.max()) + 1
    model = Model()
    model.add_depot(model.add_location(x=depot[1], y=depot[0], name="depot"), name="depot")
    for i in chosen:
        s = stops[i]
        loc = model.add_location(x=s.lon, y=s.lat, name=s.node_id)
        if salvage:  # the stop's own prize still ranks the required stops
            model.add_client(loc, pickup=s.litres, service_duration=s.service_s, required=False,
                             prize=must + s.prize, name=s.node_id)
        else:
            model.add_client(loc, pickup=s.litres, service_duration=s.service_s,
                             required=s.required, prize=0 if s.required else s.prize,
                             name=s.node_id)
    for t in trucks:
        model.add_vehicle_type(num_available=1, capacity=t.capacity_l, shift_duration=t.shift_s,
                               name=t.name)
    # The edges go in as whole matrices: adding 1.9 million edges one by one
    # through Model.add_edge takes several seconds for 1,375 bins.
    keep = [0] + [i + 1 for i in chosen]
    distances: list[Any] = [dist[np.ix_(keep, keep)]]  # PyVRP's stubs say ndarray[int]
    durations: list[Any] = [dur[np.ix_(keep, keep)]]
    data = model.data().replace(distance_matrices=distances, duration_matrices=durations)
    warm = None
    if initial is not None:
        position = {stop: k for k, stop in enumerate(chosen)}
        warm = pyvrp.Solution(data, [
            pyvrp.Route(data, [position[i] for i in v], vt)
            for vt, v in enumerate(initial) if v])
    stop = MultipleCriteria([budget, NoImprovement(NO_IMPROVEMENT_ITERATIONS)])
    with warnings.catch_warnings():
        # PyVRP warns when it finds no feasible plan; this module expects that
        # and handles it (see _solve_with_fallback).
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = pyvrp.solve(data, stop=stop, seed=seed, collect_stats=False, display=False,
                             initial_solution=warm)
    visits: list[list[int]] = [[] for _ in trucks]
    for route in result.best.routes():
        visits[route.vehicle_type()] = [chosen[a.idx] for a in route if a.is_client()]
    return visits, bool(result.best.is_feasible())


def _cost(visits: list[int], m: Matrix) -> int:
    nodes = [0] + [i + 1 for i in visits] + [0]
    return int(m[nodes[:-1], nodes[1:]].sum())


def _repair(visits: list[int], stops: list[Stop], truck: Truck, dist: Matrix,
            dur: Matrix) -> list[int]:
    """Drop stops until the route fits the truck and its shift: optional ones
    first, then those whose removal saves the most time. PyVRP's plans already
    fit; this only acts when it could not find one that does."""
    v = list(visits)

    def over() -> bool:
        return (sum(stops[i].litres for i in v) > truck.capacity_l
                or _cost(v, dur) + sum(stops[i].service_s for i in v) > truck.shift_s)

    while v and over():
        def saving(k: int) -> tuple[bool, int]:
            rest = v[:k] + v[k + 1:]
            return (not stops[v[k]].required,
                    _cost(v, dur) - _cost(rest, dur) + stops[v[k]].service_s)
        del v[max(range(len(v)), key=saving)]
    return v


def _prune_optional(visits: list[int], stops: list[Stop], dist: Matrix) -> list[int]:
    """Drop optional stops whose detour is longer than their prize. The search
    mostly leaves none, but a time-limited search is not guaranteed to."""
    v = list(visits)
    changed = True
    while changed:
        changed = False
        for k, i in enumerate(v):
            if not stops[i].required and stops[i].prize < detour_m(v, k, dist):
                del v[k]
                changed = True
                break
    return v


def detour_m(visits: Sequence[int], k: int, dist: Matrix) -> int:
    """Metres the route saves without its k-th stop (indices into the stops
    given to the matrix, the depot being index 0 of the matrix)."""
    nodes = [0] + [i + 1 for i in visits] + [0]
    prev, here, nxt = nodes[k], nodes[k + 1], nodes[k + 2]
    return int(dist[prev, here] + dist[here, nxt] - dist[prev, nxt])


def _measure(truck: Truck, visits: list[int], stops: list[Stop], dist: Matrix,
             dur: Matrix) -> TruckRoute:
    ordered = tuple(stops[i] for i in visits)
    return TruckRoute(truck, ordered, _cost(visits, dist) if visits else 0,
                      _cost(visits, dur) if visits else 0, sum(s.service_s for s in ordered),
                      sum(s.litres for s in ordered))


def _explain_left_out(plan: RoutePlan, left: list[Stop], candidates: list[Stop],
                      trucks: list[Truck]) -> None:
    plan.optional_left += sum(1 for s in left if not s.required)
    missing = [s for s in left if s.required]
    if not missing:
        return
    need = sum(s.litres for s in candidates if s.required)
    have = sum(t.capacity_l for t in trucks)
    loads = [r.load_l / r.truck.capacity_l for r in plan.routes]
    times = [r.duration_s / r.truck.shift_s for r in plan.routes]
    if need > have or sum(loads) > sum(times):
        reason = (f"no room: the trucks hold {have} L in all, the required bins need {need} L")
        advice = "add a truck or use larger trucks"
    else:
        shifts = ", ".join(sorted({_hours(t.shift_s) for t in trucks}))
        reason = f"no time: the {len(trucks)} truck(s)' shifts ({shifts}) are full"
        advice = "add a truck or lengthen the shift"
    for s in missing:
        plan.unserved.append(Unserved(s, reason))
    names = ", ".join(s.node_id for s in missing[:10])
    if len(missing) > 10:
        names += f" and {len(missing) - 10} more"
    plan.problems.append(
        f"the required bins cannot all be served in one shift ({reason}); left out "
        f"{len(missing)}: {names}: {advice}")


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d} h"
