"""Today's plan, made and kept: what a planner asks for (the same settings
and bounds whether asked on the command line or through the HTTP API), the
routes planned from what the gateway has stored (along its streets, when
imported), each stop's expected time and a place the crew can find
(gateway/streets/places.py), and the plan stored so that the crews' and
planners' screens show it.

Trucks are named truck-1, truck-2, ...: a crew account's crew is the name of
the truck it drives (`kvarter users add ... --role crew --crew truck-1`), and
sees that truck's route."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import date as Date
from datetime import datetime
from datetime import time as dtime
from functools import partial
from pathlib import Path
from typing import Any

from gateway.storage.plans import PlanRow, RouteRow, StopRow
from gateway.storage.store import Store
from gateway.streets.driving import DrivingStreets
from gateway.streets.network import district_streets
from gateway.streets.places import Places
from gateway.waste.bin_types import Catalogue
from gateway.waste.replan import RouteInProgress, replan
from gateway.waste.routing import (
    DEFAULT_CIRCUITY,
    DEFAULT_SPEED_KMH,
    Progress,
    RoutePlan,
    Stop,
    Truck,
    TruckRoute,
    depot_problem,
    travel_matrices,
)
from gateway.waste.stops import StopSelector, forecast_selector, stops_for_all_bins
from gateway.waste.today import forecast_from, plan_for_nodes, stops_for, unknown_kinds

# The bounds of a plan's settings, the command line's and the API's alike.
TRUCKS_MAX = 100
CAPACITY_MAX_L = 10**7
SHIFT_H = (0.25, 24.0)
TIME_LIMIT_S = (0.1, 600.0)
SPEED_KMH = (1.0, 130.0)
CIRCUITY = (1.0, 5.0)
DEFAULT_START = "06:00"
DEFAULT_SHIFT_H = 8.0
# A crew's "could not reach it" is shown on the plans made this long after it.
NOTE_KEPT_S = 7 * 86_400


class PlanError(ValueError):
    """A plan that cannot be made as asked; the message says what to change."""


def truck_name(k: int) -> str:
    return f"truck-{k}"


@dataclass(frozen=True)
class PlanRequest:
    depot: tuple[float, float]  # (lat, lon)
    trucks: int
    capacity_l: int
    shift_h: float = DEFAULT_SHIFT_H
    start: str = DEFAULT_START  # local HH:MM
    day: str = ""  # YYYY-MM-DD, local; "" for today
    all_required: bool = False
    every_bin: bool = False
    time_limit_s: float | None = None  # None: it grows with the number of stops
    speed_kmh: float = DEFAULT_SPEED_KMH
    circuity: float = DEFAULT_CIRCUITY
    # Start the day's routes afresh even if a plan for the day is under way
    # (else it is re-planned from each truck's last stop, gateway.waste.replan).
    afresh: bool = False

    def checked(self) -> PlanRequest:
        """This request with its day filled in; PlanError for any setting
        out of its bounds."""
        lat, lon = self.depot
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise PlanError(f"depot {lat},{lon}: latitude must be -90..90 and longitude "
                            "-180..180 (is it LON,LAT? give LAT,LON)")
        _within("trucks", self.trucks, 1, TRUCKS_MAX)
        _within("capacity", self.capacity_l, 1, CAPACITY_MAX_L)
        _within("shift", self.shift_h, *SHIFT_H)
        if self.time_limit_s is not None:
            _within("time limit", self.time_limit_s, *TIME_LIMIT_S)
        _within("speed", self.speed_kmh, *SPEED_KMH)
        _within("circuity", self.circuity, *CIRCUITY)
        day = self.day or Date.today().isoformat()
        shift_start(self.start, day)
        return PlanRequest(**{**asdict(self), "day": day, "depot": (lat, lon)})

    @property
    def shift_start(self) -> float:
        return shift_start(self.start, self.day or Date.today().isoformat())

    def fleet(self) -> list[Truck]:
        return [Truck(truck_name(k), self.capacity_l, round(self.shift_h * 3600))
                for k in range(1, self.trucks + 1)]


def _within(what: str, value: float, lo: float, hi: float) -> None:
    if not (isinstance(value, int | float) and lo <= value <= hi):
        raise PlanError(f"{what} must be {lo:g}..{hi:g}, got {value!r}")


def shift_start(start: str, day: str) -> float:
    """Unix time of a shift starting at local HH:MM on YYYY-MM-DD."""
    try:
        hh, mm = (int(x) for x in start.split(":"))
        when = datetime.combine(Date.fromisoformat(day), dtime(hh, mm))
    except ValueError:
        raise PlanError(f"start {start!r} / date {day!r}: give HH:MM and YYYY-MM-DD") from None
    try:
        return when.astimezone().timestamp()  # local time, as the crews keep it
    except (OverflowError, OSError, ValueError):
        # A day beyond what the C library's clock reaches: today's UTC offset.
        return when.replace(tzinfo=datetime.now().astimezone().tzinfo).timestamp()


def make_plan(store: Store, request: PlanRequest, catalogue: Catalogue | None = None,
              on_progress: Progress | None = None) -> RoutePlan:
    """Today's routes from the stored registry and forecast. PlanError when
    there is nothing to plan, or the depot is far from every bin. The bin
    kinds stored at import count, overridden by the catalogue given."""
    nodes = store.nodes()
    bins = [n for n in nodes if n.role == "bin"]
    if not bins:
        raise PlanError("no bins registered: import them with 'kvarter bins import'")
    far = depot_problem(request.depot, [(n.lat, n.lon) for n in bins])
    if far is not None:
        raise PlanError(far)
    if catalogue is None:
        catalogue = Catalogue.load(None, store.kind_specs())
    chooser: StopSelector
    if request.every_bin:
        chooser = stops_for_all_bins
    else:
        if on_progress is not None:
            on_progress("forecasting each bin")
        chooser = forecast_selector(forecast_from(store), request.shift_start)
    streets = district_streets(store.streets())
    driving = streets.driving if streets else None
    notes = crew_notes(store, time.time())
    previous = None if request.afresh else store.latest_plan(request.day)
    progress = None if previous is None else routes_in_progress(store, previous, request,
                                                                 time.time())
    if progress is not None:
        # The day is under way: its routes are made again from where each
        # truck is, not reshuffled.
        if on_progress is not None:
            on_progress("re-planning the day from each truck's last stop")
        started = time.perf_counter()
        stops = stops_for(nodes, catalogue, chooser, request.all_required, notes)
        where = {n.node_id: (n.lat, n.lon) for n in nodes}
        again = replan(request.depot, [p for p, _ in progress], stops, where,
                       partial(travel_matrices, circuity=request.circuity,
                               speed_kmh=request.speed_kmh, streets=driving))
        plan = again.plan
        plan.problems.extend(unknown_kinds(nodes, catalogue))
        plan.distances = "streets" if driving is not None else "straight line"
        plan.changes = [c.summary() for c in again.changes]
        plan.continues = previous.id if previous is not None else None
        for p, kept in progress:
            plan.kept[p.truck.name] = kept
            if kept:
                last = kept[-1][0]
                plan.starts[p.truck.name] = (last.lat, last.lon)
        plan.seconds = time.perf_counter() - started
    else:
        plan = plan_for_nodes(nodes, catalogue, request.depot, request.fleet(), select=chooser,
                              all_required=request.all_required, circuity=request.circuity,
                              speed_kmh=request.speed_kmh, time_limit_s=request.time_limit_s,
                              on_progress=on_progress, notes=notes, streets=driving)
    return with_places(plan, streets.places if streets else None)


def routes_in_progress(store: Store, previous: PlanRow, request: PlanRequest, now: float,
                       ) -> list[tuple[RouteInProgress, list[tuple[Stop, float]]]] | None:
    """Each truck's route in the day's latest plan and what its crew has
    recorded (with the stops recorded, and when), or None when that plan
    was for another fleet or its shift is over (then the day is planned
    afresh)."""
    fleet = request.fleet()
    if now >= request.shift_start + max(t.shift_s for t in fleet):
        return None  # the shift is over (a day gone by): nothing is under way
    rows = store.plan_stops(previous.id)
    if {r.truck for r in rows} - {t.name for t in fleet}:
        return None
    outcomes = store.stop_outcomes(previous)
    used_s = max(0, round(now - request.shift_start))
    out = []
    for truck in fleet:
        mine = [r for r in rows if r.truck == truck.name]  # in the route's order
        recorded = sorted((r for r in mine if r.node_id in outcomes),
                          key=lambda r: outcomes[r.node_id][1])
        kept = [(Stop(r.node_id, r.lat, r.lon, r.litres, r.required, kind=r.kind,
                      expected_fill_pct=r.expected_fill_pct, address=r.street or ""),
                 outcomes[r.node_id][1]) for r in recorded]
        emptied_l = sum(r.litres for r in recorded if outcomes[r.node_id][0] == "emptied")
        out.append((RouteInProgress(truck, tuple(r.node_id for r in mine),
                                    tuple(r.node_id for r in recorded),
                                    used_s=min(used_s, truck.shift_s),
                                    used_l=min(emptied_l, truck.capacity_l)), kept))
    return out


def crew_notes(store: Store, before: float) -> dict[str, str]:
    """node id -> what the last crew recorded when it could not reach the
    bin ("unreachable 2026-09-21 09:40: blocked by a car"), for the bins whose
    latest record before then says so."""
    notes = {}
    for node_id, (at, note) in store.unreachable_before(before, before - NOTE_KEPT_S).items():
        when = datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M")
        notes[node_id] = f"unreachable {when}" + (f": {note}" if note else "")
    return notes


def stop_times(route: TruckRoute, depot: tuple[float, float], leave_at: float,
               circuity: float, speed_kmh: float,
               streets: DrivingStreets | None = None) -> list[float]:
    """When the crew is expected at each stop: driving at the plan's speed
    from the depot, and each stop's service time at the ones before."""
    if not route.stops:
        return []
    planned = route.arrivals_s()
    if planned is not None:  # the very legs the planner measured
        return [leave_at + t for t in planned]
    points = [depot, *((s.lat, s.lon) for s in route.stops)]
    _, dur = travel_matrices(points, circuity, speed_kmh, streets)
    times, t = [], leave_at
    for k, s in enumerate(route.stops):
        t += float(dur[k, k + 1])
        times.append(t)
        t += s.service_s
    return times


def with_places(plan: RoutePlan, places: Places | None) -> RoutePlan:
    """The plan with a place a crew can find at every stop: the bin's address
    when the registry has one, else the nearest named street and crossing."""
    if places is None:
        return plan

    def placed(s: Stop) -> Stop:
        return s if s.address else replace(s, address=places.place(s.lat, s.lon) or "")

    plan.routes = [replace(r, stops=tuple(placed(s) for s in r.stops)) for r in plan.routes]
    plan.unserved = [replace(u, stop=placed(u.stop)) for u in plan.unserved]
    return plan


def store_plan(store: Store, request: PlanRequest, plan: RoutePlan, made_by: str,
               now: float) -> PlanRow:
    """Keep a plan with each stop's expected time and street. Routes leave
    the depot at the shift's start, or now when planning again later."""
    streets = district_streets(store.streets())
    leave_at = max(request.shift_start, now)
    routes, stops = [], []
    for r in plan.routes:
        routes.append(RouteRow(r.truck.name, r.truck.capacity_l, r.truck.shift_s,
                               r.distance_m, r.duration_s, r.load_l))
        # A day re-planned: what the crew has recorded first, at the time it
        # was recorded, then the rest from its last stop.
        kept = plan.kept.get(r.truck.name, [])
        start = plan.starts.get(r.truck.name, request.depot)
        times = [at for _, at in kept] + stop_times(
            r, start, leave_at, request.circuity, request.speed_kmh,
            streets.driving if streets else None)
        every = [s for s, _ in kept] + list(r.stops)
        for k, (s, at) in enumerate(zip(every, times, strict=True), start=1):
            stops.append(StopRow(r.truck.name, k, s.node_id, s.lat, s.lon, s.required,
                                 round(at, 1), s.expected_fill_pct, s.kind, s.litres,
                                 s.address or None))
    settings: dict[str, Any] = asdict(request)
    settings["depot"] = list(request.depot)
    if plan.continues is not None:
        settings["continues"] = plan.continues
    outcome = {"problems": list(plan.problems),
               "unserved": [{"node_id": u.stop.node_id, "reason": u.reason}
                            for u in plan.unserved],
               "optional_left": plan.optional_left, "seconds": round(plan.seconds, 2),
               "changes": list(plan.changes)}
    return store.add_plan(request.day, made_by, request.shift_start, request.depot, settings,
                          outcome, routes, stops)


def plan_and_store(db_path: Path, request: PlanRequest, made_by: str) -> PlanRow:
    """Make and keep a plan with the gateway's database at db_path and the
    standard bin types."""
    with Store(db_path) as store:
        checked = request.checked()
        plan = make_plan(store, checked)
        return store_plan(store, checked, plan, made_by, time.time())


def main() -> int:
    """`python -m gateway.waste.daily`: one plan, as the gateway's HTTP API
    asks for it, in a process of its own so that the solver's seconds of CPU
    never hold up the gateway's event loop. Reads {"db", "request",
    "made_by"} as JSON on standard input; writes {"plan_id"} or {"error"}."""
    try:
        job = json.loads(sys.stdin.read())
        fields = dict(job["request"])
        fields["depot"] = tuple(fields["depot"])
        request = PlanRequest(**fields)
        row = plan_and_store(Path(job["db"]), request, str(job["made_by"]))
    except PlanError as e:
        print(json.dumps({"error": str(e)}))
        return 1
    print(json.dumps({"plan_id": row.id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
