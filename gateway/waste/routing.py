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
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    # PyVRP is imported by the functions that solve, not here: it takes more
    # than half a second to load, and the gateway and most `kvarter` commands
    # import this module for its records without ever planning.
    import pyvrp

from gateway.streets.driving import SNAP_M, DrivingStreets

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_CIRCUITY = 1.3
DEFAULT_SPEED_KMH = 25.0
# Seconds of route search when none is given: a plan of a few dozen bins
# converges in seconds, a few hundred stops keep improving for ten or more,
# and a city's thousands for far longer, though each second then gains less.
# A plan of n stops gets the lesser of BUDGET_SMALL and BUDGET_LARGE (base +
# per stop * n), within BUDGET_S. Measured on a 2-core machine (make bench
# ONLY=waste): X instances of 100-300 customers come within 1.4 % of their
# best-known cost on average, all 1,375 of Gävle's bins with four trucks take
# about 26 s in all, 5,000 bins about 53 s.
BUDGET_SMALL = (8.0, 0.04)
BUDGET_LARGE = (18.0, 0.0052)
BUDGET_S = (8.0, 45.0)
# PyVRP's cost of an infeasible solution (the largest int64).
INFEASIBLE_COST = np.iinfo(np.int64).max
# A small plan converges in well under a second: the search stops once this
# many iterations per stop in a row (and at least NO_IMPROVEMENT_MIN) have
# found nothing better. A fixed count ended searches of a few hundred stops
# long before they had converged.
NO_IMPROVEMENT_PER_STOP = 40
NO_IMPROVEMENT_MIN = 3000
# A depot further than this from the nearest bin is taken for a mistake (a
# typing error, latitude and longitude swapped): a city's depot lies within
# its bins' reach.
DEPOT_FAR_KM = 60.0
# From this many stops on, the search starts from a sweep (see _sweep).
SWEEP_FROM_STOPS = 1000
# Progress is reported at most this often.
PROGRESS_EVERY_S = 0.5

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
    # What the last crew recorded when it could not reach the bin, with when.
    note: str = ""


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
    # Driving seconds of each leg: depot to the first stop, ..., the last stop
    # back to the depot (len(stops) + 1 of them, summing to driving_s); empty
    # for a route made without them.
    legs_s: tuple[int, ...] = ()

    @property
    def distance_km(self) -> float:
        return self.distance_m / 1000

    @property
    def duration_s(self) -> int:
        return self.driving_s + self.service_s

    def arrivals_s(self) -> list[int] | None:
        """Seconds from leaving the depot to reaching each stop: the legs
        driven and the service at every stop before. None when the route has
        no legs to tell."""
        if len(self.legs_s) != len(self.stops) + 1:
            return None
        out, t = [], 0
        for leg, s in zip(self.legs_s, self.stops, strict=False):
            t += leg
            out.append(t)
            t += s.service_s
        return out


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
    # A day's plan made again (gateway.waste.replan): per truck, the stops its
    # crew has recorded, with when (kept at the head of its route), and where
    # it goes on from; one line per truck on what changed.
    kept: dict[str, list[tuple[Stop, float]]] = field(default_factory=dict)
    starts: dict[str, tuple[float, float]] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    continues: int | None = None  # the id of the stored plan this one re-planned

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


Progress = Callable[[str], None]


def time_budget_s(stops: int) -> float:
    """Seconds of route search for a plan of this many stops, when none is given."""
    lo, hi = BUDGET_S
    grown = min(base + per_stop * stops for base, per_stop in (BUDGET_SMALL, BUDGET_LARGE))
    return min(hi, max(lo, grown))


def depot_problem(depot: tuple[float, float], positions: Sequence[tuple[float, float]],
                  ) -> str | None:
    """Why a depot cannot be where these bins' trucks start, or None: far from
    every bin, or with latitude and longitude swapped. One line."""
    if not positions:
        return None
    lat = np.array([p[0] for p in positions], dtype=np.float64)
    lon = np.array([p[1] for p in positions], dtype=np.float64)
    nearest_m = float(haversine_m(np.full_like(lat, depot[0]), np.full_like(lon, depot[1]),
                                  lat, lon).min())
    if nearest_m <= DEPOT_FAR_KM * 1000:
        return None
    d_lat, d_lon = depot
    if -90 <= d_lon <= 90:
        swapped_m = float(haversine_m(np.full_like(lat, d_lon), np.full_like(lon, d_lat), lat,
                                           lon).min())
        if swapped_m <= DEPOT_FAR_KM * 1000:
            return (f"depot {d_lat:g},{d_lon:g} looks swapped (it is "
                    f"{nearest_m / 1000:,.0f} km from the nearest bin, {d_lon:g},{d_lat:g} "
                    f"would be {swapped_m / 1000:,.1f} km): give LAT,LON, "
                    f"i.e. {d_lon:g},{d_lat:g}")
    return (f"depot {d_lat:g},{d_lon:g} is {nearest_m / 1000:,.0f} km from the nearest bin "
            f"(at most {DEPOT_FAR_KM:g} km expected): check the depot's LAT,LON")


def plan_routes(depot: tuple[float, float] | None, stops: Sequence[Stop],
                trucks: Sequence[Truck], *, circuity: float = DEFAULT_CIRCUITY,
                speed_kmh: float = DEFAULT_SPEED_KMH,
                time_limit_s: float | None = None, seed: int = 0,
                on_progress: Progress | None = None,
                streets: DrivingStreets | None = None) -> RoutePlan:
    """Plan a shift's routes, along the streets when given. Bad input is
    reported in plan.problems (and each required stop that cannot be served
    in plan.unserved); the rest is planned. time_limit_s None: a search that
    grows with the number of stops (time_budget_s). on_progress is told, now
    and then, how the search goes."""
    if not circuity >= 1:
        raise ValueError(f"circuity must be at least 1, got {circuity}")
    if not 1 <= speed_kmh <= 130:
        raise ValueError(f"speed must be 1..130 km/h, got {speed_kmh}")
    if time_limit_s is not None and not time_limit_s > 0:
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
    far = depot_problem(depot, [(s.lat, s.lon) for s in good_stops])
    if far is not None:
        plan.problems.append(far)
        for s in good_stops:
            leave(s, "the depot is far from every bin")
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
    too_big: list[Stop] = []
    for s in good_stops:
        if s.litres > biggest:
            if s.required:
                too_big.append(s)
            leave(s, f"needs {s.litres} L, more than any truck holds ({biggest} L)")
        else:
            fitting.append(s)
    if len(too_big) == 1:
        plan.problems.append(
            f"bin {too_big[0].node_id} needs {too_big[0].litres} L, more than the largest truck "
            f"holds ({biggest} L): empty it separately or use a larger truck")
    elif too_big:
        plan.problems.append(_some_bins(
            too_big, f"need more than the largest truck holds ({biggest} L)",
            "empty them separately or use a larger truck"))

    if on_progress is not None:
        on_progress(f"distances between {len(fitting) + 1} places")
    dist, dur, off = _matrices([depot] + [(s.lat, s.lon) for s in fitting], circuity, speed_kmh,
                               streets)
    if streets is not None:
        _note_off_streets(plan, off, fitting, circuity)
    longest_shift = max(t.shift_s for t in usable)
    reachable = []
    too_far: list[Stop] = []
    for i, s in enumerate(fitting, start=1):
        alone = int(dur[0, i] + dur[i, 0]) + s.service_s
        if alone > longest_shift:
            if s.required:
                too_far.append(s)
            leave(s, f"a round trip to it takes {_hours(alone)}, longer than any shift")
        else:
            reachable.append(i)
    if len(too_far) == 1:
        s = too_far[0]
        alone = int(dur[0, fitting.index(s) + 1] + dur[fitting.index(s) + 1, 0]) + s.service_s
        plan.problems.append(
            f"bin {s.node_id} alone takes {_hours(alone)} from the depot and back, longer "
            f"than the longest shift ({_hours(longest_shift)}): lengthen the shift or "
            "serve it from elsewhere")
    elif too_far:
        plan.problems.append(_some_bins(
            too_far, "each take longer from the depot and back than the longest shift "
            f"({_hours(longest_shift)})", "lengthen the shift or serve them from elsewhere"))
    keep = [0] + reachable
    if len(keep) < dist.shape[0]:  # a copy of 5,000 stops' matrices takes seconds
        dist, dur = dist[np.ix_(keep, keep)], dur[np.ix_(keep, keep)]
    candidates = [fitting[i - 1] for i in reachable]

    limit = time_budget_s(len(candidates)) if time_limit_s is None else time_limit_s
    visits = _solve_with_fallback(depot, candidates, usable, dist, dur, limit, seed,
                                  on_progress)
    visits = [_repair(v, candidates, t, dist, dur) for v, t in zip(visits, usable, strict=True)]
    visits = [_prune_optional(v, candidates, dist) for v in visits]

    plan.routes = [_measure(t, v, candidates, dist, dur)
                   for t, v in zip(usable, visits, strict=True)]
    routed = {i for v in visits for i in v}
    left = [i for i in range(len(candidates)) if i not in routed]
    _explain_left_out(plan, left, candidates, usable, dur)
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


def _some_bins(bins: Sequence[Stop], what: str, advice: str) -> str:
    """One line for many bins with the same problem."""
    names = ", ".join(s.node_id for s in bins[:10])
    if len(bins) > 10:
        names += f" and {len(bins) - 10} more"
    return f"{len(bins)} required bin(s) {what}: {names}: {advice}"


def solve_routes(stops: Sequence[Stop], trucks: Sequence[Truck], dist: Matrix, dur: Matrix, *,
                 time_limit_s: float | None = None, seed: int = 0,
                 on_progress: Progress | None = None) -> list[list[int]]:
    """The router alone, on matrices already made (index 0 the depot, then
    the stops in order): per truck, the indices into stops it visits, in
    order. What plan_routes does after its checks; benchmarks that bring
    their own distances (published instances) call it directly."""
    stop_list, truck_list = list(stops), list(trucks)
    limit = time_budget_s(len(stop_list)) if time_limit_s is None else time_limit_s
    depot = (0.0, 0.0)
    visits = _solve_with_fallback(depot, stop_list, truck_list, dist, dur, limit, seed,
                                  on_progress)
    return [_repair(v, stop_list, t, dist, dur) for v, t in zip(visits, truck_list, strict=True)]


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
    not fit, and the time is better spent choosing which to leave out. Tells
    on_progress how far the search is, now and then."""

    def __init__(self, limit_s: float, give_up_s: float, on_progress: Progress | None = None,
                 what: str = "route search") -> None:
        self.limit_s = limit_s
        self.give_up_s = give_up_s
        self.on_progress = on_progress
        self.what = what
        # The clock runs from here: PyVRP's first local search counts too.
        self.start: float | None = time.perf_counter()
        self._told = -PROGRESS_EVERY_S

    def elapsed(self) -> float:
        return 0.0 if self.start is None else time.perf_counter() - self.start

    def __call__(self, best_cost: int) -> bool:
        if self.start is None:
            self.start = time.perf_counter()
        elapsed = self.elapsed()
        if self.on_progress is not None and elapsed - self._told >= PROGRESS_EVERY_S:
            self._told = elapsed
            found = ("no plan serving every required bin yet" if best_cost >= INFEASIBLE_COST
                     else f"best so far {best_cost / 1000:,.1f} km")
            self.on_progress(f"{self.what} {elapsed:.0f} of {self.limit_s:.0f} s, {found}")
        return elapsed > self.limit_s or (best_cost >= INFEASIBLE_COST
                                          and elapsed > self.give_up_s)


def _solve_with_fallback(depot: tuple[float, float], stops: list[Stop], trucks: list[Truck],
                         dist: Matrix, dur: Matrix, time_limit_s: float,
                         seed: int, on_progress: Progress | None = None) -> list[list[int]]:
    """Per truck, the indices into stops it visits, in order."""
    required = [i for i, s in enumerate(stops) if s.required]
    if not stops:
        return [[] for _ in trucks]
    spent = 0.0
    first: list[list[int]] | None = None
    if _may_fit(stops, required, trucks, dur):
        budget = _Budget(time_limit_s, give_up_s=0.4 * time_limit_s, on_progress=on_progress)
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
                       _Budget(remaining, give_up_s=remaining, on_progress=on_progress,
                               what="the required bins do not all fit; choosing which go,"),
                       seed, salvage=True, initial=warm)
    return routes


def _may_fit(stops: list[Stop], required: list[int], trucks: list[Truck], dur: Matrix) -> bool:
    """False when the required stops certainly cannot all be served: more
    litres than all the trucks hold, or more time than all the shifts give,
    counting for each stop only its service and the shortest way to reach it."""
    if sum(stops[i].litres for i in required) > sum(t.capacity_l for t in trucks):
        return False
    if not required:
        return True
    least = float(_nearest_into(dur, [i + 1 for i in required]).sum()) \
        + sum(stops[i].service_s for i in required)
    return least <= sum(t.shift_s for t in trucks)


def _nearest_into(dur: Matrix, cols: list[int]) -> npt.NDArray[np.int64]:
    """For each of these places, the time to it from the nearest other one."""
    if len(cols) == dur.shape[0] - 1 and cols == list(range(1, dur.shape[0])):
        # Every stop: the matrix itself, its diagonal masked for the moment
        # (a copy of 5,000 stops' matrix takes seconds).
        diagonal = dur.diagonal().copy()
        np.fill_diagonal(dur, np.iinfo(np.int64).max)
        try:
            nearest: npt.NDArray[np.int64] = dur[:, 1:].min(axis=0)
            return nearest
        finally:
            np.fill_diagonal(dur, diagonal)
    into = dur[:, cols].copy()
    into[cols, range(len(cols))] = np.iinfo(np.int64).max  # not from itself
    least: npt.NDArray[np.int64] = into.min(axis=0)
    return least


def truck_kinds(trucks: Sequence[Truck]) -> list[list[int]]:
    """The trucks grouped by kind (capacity and shift), each group the
    indices of its trucks in the order given: PyVRP searches far faster with
    one vehicle type per kind than with one per truck."""
    groups: dict[tuple[int, int], list[int]] = {}
    for k, t in enumerate(trucks):
        groups.setdefault((t.capacity_l, t.shift_s), []).append(k)
    return list(groups.values())


def _solve(depot: tuple[float, float], stops: list[Stop], chosen: list[int],
           trucks: list[Truck], dist: Matrix, dur: Matrix, budget: _Budget, seed: int, *,
           salvage: bool,
           initial: list[list[int]] | None) -> tuple[list[list[int]], bool]:
    """Solve for the chosen stops; returns the visits per truck (indices into
    stops) and whether PyVRP found them feasible."""
    import pyvrp
    from pyvrp import Model
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.stop import MultipleCriteria, NoImprovement
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
    kinds = truck_kinds(trucks)
    kind_of = {k: vt for vt, group in enumerate(kinds) for k in group}
    for group in kinds:
        t = trucks[group[0]]
        model.add_vehicle_type(num_available=len(group), capacity=t.capacity_l,
                               shift_duration=t.shift_s, name=t.name)
    # The edges go in as whole matrices: adding 1.9 million edges one by one
    # through Model.add_edge takes several seconds for 1,375 bins.
    keep = [0] + [i + 1 for i in chosen]
    whole = len(keep) == dist.shape[0]
    distances: list[Any] = [dist if whole else dist[np.ix_(keep, keep)]]  # stubs say ndarray[int]
    durations: list[Any] = [dur if whole else dur[np.ix_(keep, keep)]]
    # Made from the model's parts: Model.data() would first fill matrices of
    # its own, two more copies of 5,000 stops' matrices.
    data = pyvrp.ProblemData(model.locations, model.clients, model.depots,
                             model.vehicle_types, distances, durations, model.groups,
                             model.shipments)
    warm = None
    if initial is not None:
        position = {stop: k for k, stop in enumerate(chosen)}
        warm = pyvrp.Solution(data, [
            pyvrp.Route(data, [position[i] for i in v], kind_of[k])
            for k, v in enumerate(initial) if v])
    if warm is None and len(chosen) >= SWEEP_FROM_STOPS:
        warm = _sweep(data, depot, [stops[i] for i in chosen], trucks, kinds, keep, dur)
    patience = max(NO_IMPROVEMENT_MIN, NO_IMPROVEMENT_PER_STOP * len(chosen))
    stop = MultipleCriteria([budget, NoImprovement(patience)])
    with warnings.catch_warnings():
        # PyVRP warns when it finds no feasible plan; this module expects that
        # and handles it (see _solve_with_fallback).
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = _search(data, stop, seed, warm)
    # Each kind's routes go to its trucks in the order given, the longest
    # first: truck-1 of a kind is never idle while truck-2 drives.
    by_kind: list[list[list[int]]] = [[] for _ in kinds]
    for route in result.best.routes():
        by_kind[route.vehicle_type()].append([chosen[a.idx] for a in route if a.is_client()])
    visits: list[list[int]] = [[] for _ in trucks]
    for group, routes in zip(kinds, by_kind, strict=True):
        routes.sort(key=len, reverse=True)
        for k, v in zip(group, routes, strict=False):
            visits[k] = v
    return visits, bool(result.best.is_feasible())


def _search(data: pyvrp.ProblemData, stop: Any, seed: int,
            warm: pyvrp.Solution | None) -> pyvrp.Result:
    """PyVRP's iterated local search, as pyvrp.solve runs it, but begun
    from the given solution after a full local search of it, as pyvrp.solve
    does only from a random one. From a random start, that first search of
    5,000 stops takes about a minute on its own; from a sweep, seconds."""
    import pyvrp
    if warm is None:
        return pyvrp.solve(data, stop=stop, seed=seed, collect_stats=False, display=False)
    from pyvrp.IteratedLocalSearch import IteratedLocalSearch
    from pyvrp.PenaltyManager import PenaltyManager
    from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
    params = pyvrp.SolveParams()
    rng = pyvrp.RandomNumberGenerator(seed=seed)
    ls = LocalSearch(data, rng, compute_neighbours(data, params.neighbourhood),
                     PerturbationManager(params.perturbation))
    for op in params.operators:
        if op.supports(data):
            ls.add_operator(op(data))
    pm = PenaltyManager(params.penalty.midpoint_penalties(data), params.penalty)
    init = ls(warm, pm.max_cost_evaluator(), exhaustive=True)
    return IteratedLocalSearch(data, pm, ls, init, params.ils).run(stop, collect_stats=False)


def _sweep(data: pyvrp.ProblemData, depot: tuple[float, float], stops: list[Stop],
           trucks: list[Truck], kinds: list[list[int]], keep: list[int],
           dur: Matrix) -> pyvrp.Solution:
    """A first plan by the sweep: the stops in order of their bearing from
    the depot, cut into one route per truck as its capacity and shift allow,
    each route in nearest-neighbour order. What it leaves out the search
    inserts."""
    import pyvrp
    x = np.array([(s.lon - depot[1]) * math.cos(math.radians(depot[0])) for s in stops])
    y = np.array([s.lat - depot[0] for s in stops])
    order = list(np.argsort(np.arctan2(y, x), kind="stable"))
    slots = [(vt, trucks[k]) for vt, group in enumerate(kinds) for k in group]
    per_truck = max(1, math.ceil(len(stops) / len(slots)))
    routes, at = [], 0
    for vt, truck in slots:
        if at >= len(order):
            break
        load = 0
        taken: list[int] = []
        # Each truck about its share of the stops, within its capacity, with
        # the time check left to the search (the order is not known yet).
        while at < len(order) and len(taken) < per_truck \
                and load + stops[order[at]].litres <= truck.capacity_l:
            load += stops[order[at]].litres
            taken.append(int(order[at]))
            at += 1
        if taken:
            routes.append(pyvrp.Route(data, _nearest_first(taken, keep, dur), vt))
    return pyvrp.Solution(data, routes)


def _nearest_first(taken: list[int], keep: list[int], dur: Matrix) -> list[int]:
    """The stops (indices among the chosen) in nearest-neighbour order from
    the depot."""
    rows = [keep[k + 1] for k in taken]
    sub = dur[np.ix_([keep[0], *rows], [keep[0], *rows])].astype(np.float64)
    sub[:, 0] = np.inf
    here, route = 0, []
    for _ in taken:
        sub[:, here] = np.inf
        nxt = int(np.argmin(sub[here]))
        route.append(taken[nxt - 1])
        here = nxt
    return route


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
    path = [0, *(i + 1 for i in visits), 0] if visits else []
    legs = tuple(int(dur[a, b]) for a, b in zip(path, path[1:], strict=False))
    return TruckRoute(truck, ordered, _cost(visits, dist) if visits else 0,
                      _cost(visits, dur) if visits else 0, sum(s.service_s for s in ordered),
                      sum(s.litres for s in ordered), legs)


def _explain_left_out(plan: RoutePlan, left: list[int], candidates: list[Stop],
                      trucks: list[Truck], dur: Matrix) -> None:
    """Name the required stops no route takes, the limit that left them out
    (the trucks' capacity or their shifts) and about how many trucks of the
    kind given would serve them all."""
    plan.optional_left += sum(1 for i in left if not candidates[i].required)
    missing = [i for i in left if candidates[i].required]
    if not missing:
        return
    need_l = sum(s.litres for s in candidates if s.required)
    have_l = sum(t.capacity_l for t in trucks)
    # The time the left-out stops need at least: their service, and reaching
    # each from its nearest other place.
    extra_s = float(_nearest_into(dur, [i + 1 for i in missing]).sum()) \
        + sum(candidates[i].service_s for i in missing)
    used_s = sum(r.duration_s for r in plan.routes)
    have_s = sum(t.shift_s for t in trucks)
    load_share = sum(r.load_l for r in plan.routes) / have_l
    time_share = used_s / have_s
    capacity = sum(t.capacity_l for t in trucks) / len(trucks)
    shift = sum(t.shift_s for t in trucks) / len(trucks)
    by_capacity = math.ceil(need_l / capacity)
    by_time = math.ceil((used_s + extra_s) / shift)
    enough = max(by_capacity, by_time, len(trucks) + 1)
    if need_l > have_l or load_share > time_share:
        reason = (f"capacity is the limit: the {len(trucks)} truck(s) hold {have_l:,} L in all, "
                  f"the required bins need {need_l:,} L")
        advice = f"about {enough} trucks would do (--trucks {enough}), or larger ones"
    else:
        shifts = ", ".join(sorted({_hours(t.shift_s) for t in trucks}))
        reason = (f"the shift is the limit: the {len(trucks)} truck(s)' shifts ({shifts}) are "
                  f"{time_share:.0%} full, their loads {load_share:.0%} of capacity")
        advice = (f"about {enough} trucks would do (--trucks {enough}), or a shift of about "
                  f"{_hours(math.ceil((used_s + extra_s) / len(trucks) / 900) * 900)}")
    for i in missing:
        plan.unserved.append(Unserved(candidates[i], reason))
    names = ", ".join(candidates[i].node_id for i in missing[:10])
    if len(missing) > 10:
        names += f" and {len(missing) - 10} more"
    plan.problems.append(
        f"the required bins cannot all be served ({reason}); left out "
        f"{len(missing)}: {names}: {advice}")


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d} h"
