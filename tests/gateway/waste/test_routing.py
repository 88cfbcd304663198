"""Route planning with PyVRP: properties every plan must have whatever the
input, and the one-line problems an operator gets for input that cannot work."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.records import Node
from gateway.waste.bin_types import Catalogue
from gateway.waste.routing import (
    BUDGET_S,
    RoutePlan,
    Stop,
    Truck,
    depot_problem,
    detour_m,
    haversine_m,
    plan_routes,
    time_budget_s,
    travel_matrices,
    truck_kinds,
)
from gateway.waste.stops import stops_for_all_bins

DEPOT = (60.6749, 17.1413)
FAST = 0.3  # seconds of search: these plans are small
M_PER_DEG_LAT = 111_195.0


def near(north_m: float, east_m: float) -> tuple[float, float]:
    import math
    return (DEPOT[0] + north_m / M_PER_DEG_LAT,
            DEPOT[1] + east_m / (M_PER_DEG_LAT * math.cos(math.radians(DEPOT[0]))))


def stop(node_id: str, north_m: float, east_m: float, litres: int = 100, **kw: object) -> Stop:
    lat, lon = near(north_m, east_m)
    return Stop(node_id, lat, lon, litres, **kw)  # type: ignore[arg-type]


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[Stop], list[Truck]]:
    n = draw(st.integers(0, 14))
    stops = []
    for i in range(n):
        required = draw(st.booleans())
        stops.append(stop(
            f"B{i:03d}", draw(st.floats(-3000, 3000)), draw(st.floats(-3000, 3000)),
            litres=draw(st.integers(0, 600)), required=required,
            prize=0 if required else draw(st.integers(0, 6000)),
            service_s=draw(st.integers(0, 300))))
    trucks = [Truck(f"t{k}", draw(st.integers(50, 2500)), draw(st.integers(300, 4 * 3600)))
              for k in range(draw(st.integers(1, 3)))]
    return stops, trucks


def check_plan(plan: RoutePlan, stops: list[Stop], trucks: list[Truck]) -> None:
    routed = Counter(s.node_id for r in plan.routes for s in r.stops)
    unserved = Counter(u.stop.node_id for u in plan.unserved)
    # No stop twice, on one route or across routes.
    assert all(n == 1 for n in routed.values()), routed
    for s in stops:
        if s.required:  # on exactly one route, or listed as unserved once with a reason
            assert routed[s.node_id] + unserved[s.node_id] == 1, s.node_id
    assert all(u.reason and "\n" not in u.reason for u in plan.unserved)
    optional = [s for s in stops if not s.required]
    assert sum(1 for s in optional if routed[s.node_id]) + plan.optional_left == len(optional)
    dist, _ = travel_matrices([DEPOT] + [(s.lat, s.lon) for s in stops], 1.3, 25.0)
    index = {s.node_id: i for i, s in enumerate(stops)}
    by_name = {t.name: t for t in trucks}
    for r in plan.routes:
        assert r.truck == by_name[r.truck.name]
        assert r.load_l == sum(s.litres for s in r.stops) <= r.truck.capacity_l
        assert r.duration_s == r.driving_s + r.service_s <= r.truck.shift_s
        # The time at each stop, as the route sheet prints it: later along the
        # route, and the last arrival, its service and the drive back make
        # the route's whole duration.
        arrivals = r.arrivals_s()
        if r.stops:
            assert arrivals is not None and len(arrivals) == len(r.stops)
            assert sum(r.legs_s) == r.driving_s and min(r.legs_s) >= 0
            assert arrivals[0] == r.legs_s[0]
            assert all(a + s.service_s <= b for a, b, s in
                       zip(arrivals, arrivals[1:], r.stops, strict=False))
            assert arrivals[-1] + r.stops[-1].service_s + r.legs_s[-1] == r.duration_s
        visits = [index[s.node_id] for s in r.stops]
        for k, s in enumerate(r.stops):
            # An optional stop is on a route only if it is worth its detour.
            if not s.required:
                assert s.prize >= detour_m(visits, k, dist), (s, detour_m(visits, k, dist))
    assert all(p and "\n" not in p for p in plan.problems)


@settings(max_examples=60, deadline=None)
@given(instances())
def test_every_plan_keeps_its_promises(instance: tuple[list[Stop], list[Truck]]) -> None:
    stops, trucks = instance
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    check_plan(plan, stops, trucks)


def test_a_plan_that_fits_serves_every_bin_on_short_routes() -> None:
    # Two clusters 2 km apart, east and west of the depot: one truck each.
    stops = [stop(f"E{i}", 30 * i, 2000) for i in range(5)] + \
            [stop(f"W{i}", 30 * i, -2000) for i in range(5)]
    trucks = [Truck("east", 600, 3 * 3600), Truck("west", 600, 3 * 3600)]
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    check_plan(plan, stops, trucks)
    assert plan.unserved == [] and plan.problems == []
    clusters = [{s.node_id[0] for s in r.stops} for r in plan.routes]
    assert sorted(map(sorted, clusters)) == [["E"], ["W"]]
    for r in plan.routes:
        # Out about 2.6 km (2 km straight, times the circuity), along the cluster, back.
        assert 5000 < r.distance_m < 6000
        assert r.driving_s == pytest.approx(r.distance_m / (25 / 3.6), abs=10)
        assert r.service_s == 5 * 60 and r.load_l == 500


def test_optional_bins_are_taken_only_when_worth_the_detour() -> None:
    stops = [stop("R1", 0, 1000), stop("R2", 0, 1100),
             stop("NEAR", 50, 1050, required=False, prize=1000),  # about 100 m off the way
             stop("FAR", 3000, 1000, required=False, prize=1000)]  # about 7.8 km there and back
    trucks = [Truck("t", 1000, 3600)]
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    check_plan(plan, stops, trucks)
    assert {s.node_id for s in plan.routes[0].stops} == {"R1", "R2", "NEAR"}
    assert plan.optional_left == 1


def test_a_truck_that_cannot_hold_any_bin_is_named_with_the_bins() -> None:
    stops = [stop("B1", 0, 100, litres=80), stop("B2", 0, 200, litres=600)]
    trucks = [Truck("tiny", 50, 3600), Truck("big", 2000, 3600)]
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    check_plan(plan, stops, trucks)
    assert [r.truck.name for r in plan.routes] == ["big"]
    assert plan.problems == [
        "truck 'tiny' holds 50 L, less than any bin (the smallest, B1, needs 80 L; the "
        "largest, B2, 600 L): raise its capacity; it has no route"]
    assert plan.stops_served == 2


def test_a_required_bin_bigger_than_every_truck_is_named_and_the_rest_planned() -> None:
    stops = [stop("B1", 0, 100), stop("HUGE", 0, 200, litres=5000), stop("B3", 0, 300)]
    trucks = [Truck("a", 1000, 3600), Truck("b", 1500, 3600)]
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    check_plan(plan, stops, trucks)
    assert plan.problems == ["bin HUGE needs 5000 L, more than the largest truck holds "
                             "(1500 L): empty it separately or use a larger truck"]
    assert [(u.stop.node_id, u.reason) for u in plan.unserved] == [
        ("HUGE", "needs 5000 L, more than any truck holds (1500 L)")]
    assert plan.stops_served == 2


def test_a_plan_too_big_for_one_shift_names_the_bins_left_out() -> None:
    # 30 bins 2 min each, 1 km apart on a line: far more than one 45-minute shift.
    stops = [stop(f"B{i:02d}", 0, 1000 * (i + 1), service_s=120) for i in range(30)]
    trucks = [Truck("only", 10_000, 45 * 60)]
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    check_plan(plan, stops, trucks)
    assert 0 < plan.stops_served < 30
    served = {s.node_id for s in plan.routes[0].stops}
    left = [u.stop.node_id for u in plan.unserved]
    assert len(left) == 30 - len(served)
    assert all(u.reason.startswith(("the shift is the limit", "a round trip to it takes"))
               for u in plan.unserved)
    # The nearest bins are the ones a 45-minute shift can reach.
    assert served == {f"B{i:02d}" for i in range(len(served))}
    summary = [p for p in plan.problems if "cannot all be served" in p]
    assert len(summary) == 1
    no_time = [u.stop.node_id for u in plan.unserved
               if u.reason.startswith("the shift is the limit")]
    assert no_time and f"left out {len(no_time)}: {', '.join(no_time[:10])}" in summary[0]
    assert "the shift is the limit: the 1 truck(s)' shifts (0:45 h) are" in summary[0]
    assert "trucks would do (--trucks " in summary[0]
    # Bins beyond a round trip's reach are named on their own.
    beyond = [u.stop.node_id for u in plan.unserved
              if u.reason.startswith("a round trip to it takes")]
    assert "B29" in beyond
    assert any(p.startswith(f"{len(beyond)} required bin(s) each take longer from the depot")
               for p in plan.problems)


def test_a_plan_too_heavy_for_the_trucks_says_so() -> None:
    stops = [stop(f"B{i}", 10 * i, 500, litres=300) for i in range(10)]
    trucks = [Truck("a", 1000, 8 * 3600), Truck("b", 1000, 8 * 3600)]
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    check_plan(plan, stops, trucks)
    assert plan.stops_served == 6  # three bins of 300 L in each 1000 L truck
    assert len(plan.unserved) == 4
    assert all(u.reason == "capacity is the limit: the 2 truck(s) hold 2,000 L in all, the "
               "required bins need 3,000 L" for u in plan.unserved)
    # 3,000 L in trucks of 1,000 L: three would do.
    assert plan.problems[-1].endswith("about 3 trucks would do (--trucks 3), or larger ones")


def test_no_trucks_and_no_depot_are_problems_not_exceptions() -> None:
    stops = [stop("B1", 0, 100), stop("B2", 0, 200, required=False, prize=10)]
    plan = plan_routes(DEPOT, stops, [], time_limit_s=FAST)
    assert plan.routes == []
    assert plan.problems[0].startswith("no trucks: give at least one truck")
    assert [(u.stop.node_id, u.reason) for u in plan.unserved] == [("B1", "no trucks")]
    assert plan.optional_left == 1

    plan = plan_routes(None, stops, [Truck("t", 1000, 3600)], time_limit_s=FAST)
    assert plan.problems == ["depot missing: give the depot's position as LAT,LON in degrees"]
    assert [u.stop.node_id for u in plan.unserved] == ["B1"]
    plan = plan_routes((95.0, 17.0), stops, [Truck("t", 1000, 3600)], time_limit_s=FAST)
    assert plan.problems[0].startswith("depot missing") and "(95.0, 17.0)" in plan.problems[0]


def test_bad_trucks_and_bins_are_named_and_the_rest_planned() -> None:
    b2 = replace(stop("B2", 0, 200), lat=91.0)
    stops = [stop("B1", 0, 100), stop("B1", 0, 150), b2,
             stop("B3", 0, 300, litres=-5), stop("B4", 0, 400)]
    trucks = [Truck("t", 1000, 3600), Truck("t", 500, 3600), Truck("", 500, 3600),
              Truck("zero", 0, 3600), Truck("noshift", 500, 0)]
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    assert plan.problems == [
        "bin B1 is listed twice: planned once",
        f"bin B2: position (91.0, {b2.lon}) is not a latitude, longitude in degrees; left out: "
        "correct it in the registry",
        "bin B3: litres must be a number 0 or more, got -5; left out: correct it in the "
        "registry",
        "truck 't': is listed twice; left out: give every truck its own name",
        "truck '': has no name; left out: give every truck its own name",
        "truck 'zero': capacity must be whole litres above 0, got 0; left out",
        "truck 'noshift': shift must be whole seconds above 0, got 0; left out"]
    assert [r.truck.name for r in plan.routes] == ["t"]
    assert {s.node_id for s in plan.routes[0].stops} == {"B1", "B4"}
    assert {u.stop.node_id for u in plan.unserved} == {"B2", "B3"}


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="circuity"):
        plan_routes(DEPOT, [], [Truck("t", 1, 1)], circuity=0.9)
    with pytest.raises(ValueError, match="speed"):
        plan_routes(DEPOT, [], [Truck("t", 1, 1)], speed_kmh=0)


def test_an_empty_plan_has_an_empty_route_per_truck() -> None:
    plan = plan_routes(DEPOT, [], [Truck("a", 100, 60), Truck("b", 100, 60)])
    assert [(r.truck.name, r.stops, r.distance_m) for r in plan.routes] == [
        ("a", (), 0), ("b", (), 0)]
    assert plan.problems == [] and plan.unserved == []


def test_haversine_matches_a_known_distance() -> None:
    import numpy as np
    # Gävle to Stockholm centre, about 151 km as the crow flies.
    d = haversine_m(np.array(60.6749), np.array(17.1413), np.array(59.3293), np.array(18.0686))
    assert float(d) == pytest.approx(156_000, rel=0.02)


def test_all_bins_are_required_stops_with_their_types_volume() -> None:
    nodes = [Node("G1", "bin", 60.67, 17.14, "Big Belly källsorteringskärl"),
             Node("G2", "bin", 60.68, 17.15, "240L"), Node("G3", "bin", 60.69, 17.16, ""),
             Node("L1", "light", 60.67, 17.14, "street-1")]
    stops = stops_for_all_bins(nodes, Catalogue.default())
    assert [(s.node_id, s.litres, s.service_s, s.required, s.kind) for s in stops] == [
        ("G1", 600, 150, True, "Big Belly källsorteringskärl"), ("G2", 240, 75, True, "240L"),
        ("G3", 80, 60, True, "generic")]


def test_litres_and_times_from_a_forecast_may_be_fractions() -> None:
    stops = [stop("B1", 0, 100, litres=70.2, service_s=59.6),  # type: ignore[arg-type]
             stop("B2", 0, 200, litres=float("nan"))]  # type: ignore[arg-type]
    plan = plan_routes(DEPOT, stops, [Truck("t", 71, 3600)], time_limit_s=FAST)
    [b1] = plan.routes[0].stops
    assert (b1.litres, b1.service_s) == (71, 60)  # litres rounded up: never overfull
    assert plan.problems == ["bin B2: litres must be a number 0 or more, got nan; left out: "
                             "correct it in the registry"]


def test_trucks_of_one_kind_share_a_vehicle_type_and_keep_their_names() -> None:
    trucks = [Truck("a", 1000, 3600), Truck("b", 500, 3600), Truck("c", 1000, 3600),
              Truck("d", 1000, 7200)]
    assert truck_kinds(trucks) == [[0, 2], [1], [3]]
    stops = [stop(f"B{i}", 300 * i, 200, litres=200) for i in range(12)]
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    check_plan(plan, stops, trucks)
    assert [r.truck.name for r in plan.routes] == ["a", "b", "c", "d"]
    assert plan.stops_served == 12 and plan.unserved == []
    # Of two trucks of a kind, the first given is never idle while the other drives.
    assert len(plan.routes[0].stops) >= len(plan.routes[2].stops)


@pytest.mark.parametrize(("depot", "start"), [
    ((DEPOT[1], DEPOT[0]), "depot 17.1413,60.6749 looks swapped"),
    ((48.85, 2.35), "depot 48.85,2.35 is 1,"),
])
def test_a_depot_far_from_every_bin_is_refused_in_one_line_before_planning(
        depot: tuple[float, float], start: str) -> None:
    stops = [stop(f"B{i}", 100 * i, 100) for i in range(50)]
    told: list[str] = []
    plan = plan_routes(depot, stops, [Truck("t", 10_000, 8 * 3600)], time_limit_s=5,
                       on_progress=told.append)
    assert len(plan.problems) == 1 and plan.problems[0].startswith(start)
    assert "\n" not in plan.problems[0]
    assert len(plan.unserved) == 50 and plan.stops_served == 0
    assert told == []  # nothing was searched
    assert depot_problem(DEPOT, [(s.lat, s.lon) for s in stops]) is None


def test_many_bins_beyond_reach_are_one_line() -> None:
    far = [stop(f"F{i}", 0, 40_000 + 100 * i) for i in range(20)]
    plan = plan_routes(DEPOT, [stop("B1", 0, 100), *far], [Truck("t", 10_000, 3600)],
                       time_limit_s=FAST)
    assert plan.problems == [
        "20 required bin(s) each take longer from the depot and back than the longest shift "
        "(1:00 h): F0, F1, F2, F3, F4, F5, F6, F7, F8, F9 and 10 more: lengthen the shift or "
        "serve them from elsewhere"]
    assert plan.stops_served == 1


def test_the_search_budget_grows_with_the_stops_within_bounds() -> None:
    budgets = [time_budget_s(n) for n in (0, 10, 100, 1000, 3000, 100_000)]
    assert budgets == sorted(budgets)
    assert budgets[0] >= BUDGET_S[0] and budgets[-1] == BUDGET_S[1]
    assert time_budget_s(1375) > time_budget_s(300)


def test_progress_is_told_while_the_search_runs() -> None:
    stops = [stop(f"B{i}", 150 * (i % 7), 150 * (i // 7)) for i in range(30)]
    told: list[str] = []
    plan = plan_routes(DEPOT, stops, [Truck("t", 10_000, 8 * 3600)], time_limit_s=1.2,
                       on_progress=told.append)
    check_plan(plan, stops, [Truck("t", 10_000, 8 * 3600)])
    assert told[0] == "distances between 31 places"
    assert any(t.startswith("route search ") and " of 1 s, " in t for t in told)


def test_the_shift_named_as_the_limit_with_a_fleet_that_would_do() -> None:
    # 40 bins 5 min each, near the depot: time, not the 100,000 L, runs out.
    stops = [stop(f"B{i:02d}", 50 * (i % 8), 50 * (i // 8), service_s=300) for i in range(40)]
    trucks = [Truck("t1", 100_000, 3600), Truck("t2", 100_000, 3600)]
    plan = plan_routes(DEPOT, stops, trucks, time_limit_s=FAST)
    check_plan(plan, stops, trucks)
    assert plan.unserved
    summary = plan.problems[-1]
    assert "the shift is the limit" in summary
    # 40 x 5 min of service alone is 3:20 h: at least four one-hour trucks.
    n = int(summary.split("about ")[1].split(" trucks")[0])
    assert 4 <= n <= 6
