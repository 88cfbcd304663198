"""Re-planning a day in progress: what is done stays done, what is left keeps
its order, and only what forces a change changes the routes."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.records import Node
from gateway.storage.store import Store
from gateway.waste.daily import PlanRequest, plan_and_store
from gateway.waste.replan import RouteInProgress, replan
from gateway.waste.routing import Stop, Truck, plan_routes, travel_matrices

DEPOT = (60.675, 17.14)
MATRICES = partial(travel_matrices, circuity=1.3, speed_kmh=25.0)


def bins(n: int, seed: int, required_share: float = 0.7) -> list[Stop]:
    rng = random.Random(seed)
    return [Stop(f"B{i:03d}", DEPOT[0] + rng.uniform(-0.01, 0.01),
                 DEPOT[1] + rng.uniform(-0.02, 0.02), litres=rng.randint(50, 600),
                 required=rng.random() < required_share, prize=rng.randint(100, 3000))
            for i in range(n)]


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(x in it for x in part)


def test_two_emptied_and_one_unreachable_change_nothing_else() -> None:
    stops = bins(120, seed=3, required_share=1.0)
    trucks = [Truck("truck-1", 40_000, 8 * 3600), Truck("truck-2", 40_000, 8 * 3600)]
    first = plan_routes(DEPOT, stops, trucks, time_limit_s=2)
    assert not first.unserved
    orders = {r.truck.name: [s.node_id for s in r.stops] for r in first.routes}
    one = orders["truck-1"]
    done = (one[0], one[1], one[2])  # two emptied, one could not be reached
    progress = [RouteInProgress(trucks[0], tuple(one), done, used_s=1800, used_l=900),
                RouteInProgress(trucks[1], tuple(orders["truck-2"]))]
    where = {s.node_id: (s.lat, s.lon) for s in stops}
    again = replan(DEPOT, progress, stops, where, MATRICES)
    after = {r.truck.name: [s.node_id for s in r.stops] for r in again.plan.routes}
    assert after["truck-1"] == one[3:]
    assert after["truck-2"] == orders["truck-2"]
    assert [c.summary() for c in again.changes] == ["truck-1: unchanged", "truck-2: unchanged"]
    assert not again.plan.unserved


def test_a_new_bin_is_added_where_it_costs_least_and_the_change_is_named() -> None:
    stops = bins(30, seed=5, required_share=1.0)
    trucks = [Truck("truck-1", 40_000, 8 * 3600), Truck("truck-2", 40_000, 8 * 3600)]
    progress = [RouteInProgress(trucks[0], tuple(s.node_id for s in stops[:15])),
                RouteInProgress(trucks[1], tuple(s.node_id for s in stops[15:29]))]
    again = replan(DEPOT, progress, stops, {}, MATRICES)
    changes = {c.truck: c for c in again.changes}
    new = stops[29].node_id
    assert sum(new in c.added for c in changes.values()) == 1
    for p in progress:
        route = next(r for r in again.plan.routes if r.truck == p.truck)
        ids = [s.node_id for s in route.stops]
        assert is_subsequence(list(p.planned), ids)  # the order kept, the new one inserted


def test_a_shortened_shift_sheds_optional_stops_before_required_ones() -> None:
    stops = bins(40, seed=9, required_share=0.5)
    truck = Truck("truck-1", 100_000, 8 * 3600)
    full = RouteInProgress(truck, tuple(s.node_id for s in stops))
    plenty = replan(DEPOT, [full], stops, {}, MATRICES).plan.routes[0]
    late = RouteInProgress(truck, full.planned, used_s=8 * 3600 - plenty.duration_s // 2)
    again = replan(DEPOT, [late], stops, {}, MATRICES)
    kept = {s.node_id for s in again.plan.routes[0].stops}
    dropped = [s for s in stops if s.node_id not in kept]
    assert dropped
    assert any(not s.required for s in dropped)
    # Optional stops never take a required one's place: without them, the
    # same required stops are served.
    required = [s for s in stops if s.required]
    alone = replan(DEPOT, [late], required, {}, MATRICES)
    assert {s.node_id for s in alone.plan.routes[0].stops} == \
        {s.node_id for s in again.plan.routes[0].stops if s.required}
    assert {u.stop.node_id for u in again.plan.unserved} == \
        {s.node_id for s in dropped if s.required}
    assert all("shift" in u.reason for u in again.plan.unserved)


@st.composite
def days(draw: st.DrawFn) -> tuple[list[Stop], list[RouteInProgress], list[Stop]]:
    n = draw(st.integers(0, 40))
    stops = bins(n, seed=draw(st.integers(0, 10_000)))
    ids = [s.node_id for s in stops]
    k = draw(st.integers(1, 3))
    trucks = [Truck(f"truck-{i + 1}", draw(st.integers(200, 20_000)),
                    draw(st.integers(600, 8 * 3600))) for i in range(k)]
    shuffled = draw(st.permutations(ids))
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=k - 1, max_size=k - 1)))
    parts = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    progress = []
    for truck, part in zip(trucks, parts, strict=True):
        ndone = draw(st.integers(0, len(part)))
        progress.append(RouteInProgress(truck, tuple(part), tuple(part[:ndone]),
                                        used_s=draw(st.integers(0, truck.shift_s)),
                                        used_l=draw(st.integers(0, truck.capacity_l))))
    # Today's wanted stops now: some of the planned ones, and some new.
    wanted = [s for s in stops if draw(st.booleans())] + bins(draw(st.integers(0, 5)), seed=n + 1)
    wanted = list({s.node_id: s for s in wanted}.values())
    return stops, progress, wanted


@settings(max_examples=80, deadline=None)
@given(days())
def test_a_replan_keeps_done_stops_off_keeps_order_and_never_overfills(
        day: tuple[list[Stop], list[RouteInProgress], list[Stop]]) -> None:
    stops, progress, wanted = day
    where = {s.node_id: (s.lat, s.lon) for s in stops}
    again = replan(DEPOT, progress, wanted, where, MATRICES)
    done = {n for p in progress for n in p.done}
    served = [s.node_id for r in again.plan.routes for s in r.stops]
    assert len(served) == len(set(served))  # each stop once
    assert not done & set(served)  # nothing recorded comes back
    unserved = {u.stop.node_id for u in again.plan.unserved}
    for s in wanted:  # every required stop wanted is planned or named
        if s.required and s.node_id not in done:
            assert (s.node_id in served) != (s.node_id in unserved)
    assert set(served) <= {s.node_id for s in wanted}
    for p, r in zip(progress, again.plan.routes, strict=True):
        assert r.truck == p.truck
        assert r.load_l <= p.truck.capacity_l - p.used_l
        if r.stops:  # (a truck out of time still drives back, with no stop)
            assert r.duration_s <= p.truck.shift_s - p.used_s
        ids = [s.node_id for s in r.stops]
        assert is_subsequence([n for n in p.planned if n in ids], ids)
    changes = {c.truck: c for c in again.changes}
    for p, r in zip(progress, again.plan.routes, strict=True):
        c = changes[p.truck.name]
        before = [n for n in p.planned if n not in done]
        after = [s.node_id for s in r.stops]
        # What the change says is exactly the difference of the two lists.
        assert set(after) - set(before) == set(c.added) | set(c.moved_in)
        assert set(before) - set(after) == set(c.removed) | set(c.moved_out)


def test_a_stored_day_re_planned_keeps_what_crews_did_and_the_order_of_the_rest(
        tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite"
    rng = random.Random(4)
    with Store(db) as store:
        for i in range(60):
            store.register(Node(f"B{i:02d}", "bin", DEPOT[0] + rng.uniform(-0.01, 0.01),
                                DEPOT[1] + rng.uniform(-0.02, 0.02), "240L"))
    # A shift that started ten minutes ago, today.
    start = (datetime.now() - timedelta(minutes=10)).strftime("%H:%M")
    request = PlanRequest(DEPOT, 2, 40_000, start=start, every_bin=True, all_required=True,
                          time_limit_s=1)
    first = plan_and_store(db, request, "planner")
    with Store(db) as store:
        before = {t: [s.node_id for s in store.plan_stops(first.id, t)]
                  for t in ("truck-1", "truck-2")}
        one = before["truck-1"]
        # Recorded from the command line (no plan id), after the plan was made.
        now = max(time.time(), first.made_at)
        store.record_visit(one[0], now + 0.1, "emptied")
        store.record_visit(one[1], now + 0.2, "emptied")
        store.record_visit(one[2], now + 0.3, "unreachable", "parked car")
    second = plan_and_store(db, request, "planner")
    with Store(db) as store:
        after = {t: [s.node_id for s in store.plan_stops(second.id, t)]
                 for t in ("truck-1", "truck-2")}
        # The crew's records stay on its route, first, and count as done.
        outcomes = store.stop_outcomes(second)
    assert after == before
    assert {n: o[0] for n, o in outcomes.items()} == {
        one[0]: "emptied", one[1]: "emptied", one[2]: "unreachable"}
    assert second.outcome["changes"] == ["truck-1: unchanged", "truck-2: unchanged"]
    # Asked to, the day is planned anew.
    fresh = plan_and_store(db, replace(request, afresh=True), "planner")
    assert fresh.outcome["changes"] == []


def test_routes_plan_run_again_mid_shift_says_per_truck_what_changed(tmp_path: Path) -> None:
    """The command line's re-plan: what the crew recorded with `kvarter bins`
    stays on truck-1, done; both trucks keep their order, and the command
    says so per truck; --afresh plans the day anew."""
    db = tmp_path / "g.sqlite"
    rng = random.Random(5)
    with Store(db) as store:
        for i in range(30):
            store.register(Node(f"B{i:02d}", "bin", DEPOT[0] + rng.uniform(-0.01, 0.01),
                                DEPOT[1] + rng.uniform(-0.02, 0.02), "240L"))
    start = (datetime.now() - timedelta(minutes=10)).strftime("%H:%M")

    def plan(*extra: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "tools.cli", "routes", "plan", "--db", str(db), "--depot",
             f"{DEPOT[0]},{DEPOT[1]}", "--trucks", "2", "--capacity", "40000", "--start", start,
             "--every-bin", "--all-required", "--time-limit", "0.5", "--out",
             str(tmp_path / "routes"), *extra], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc

    def routes() -> dict[str, list[str]]:
        with Store(db) as store:
            latest = store.latest_plan(datetime.now().date().isoformat())
            assert latest is not None
            return {t: [s.node_id for s in store.plan_stops(latest.id, t)]
                    for t in ("truck-1", "truck-2")}

    def record(*args: str) -> None:
        proc = subprocess.run([sys.executable, "-m", "tools.cli", "bins", *args, "--db",
                               str(db)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr

    first = plan()
    assert "re-planned" not in first.stdout
    before = routes()
    one = before["truck-1"]
    record("emptied", one[0], one[1])
    record("unreachable", one[2], "--note", "parked car")
    again = plan().stdout.splitlines()
    at = again.index("re-planned from each truck's last recorded stop (--afresh to plan anew):")
    assert again[at + 1:at + 3] == ["  truck-1: unchanged", "  truck-2: unchanged"]
    assert routes() == before
    anew = plan("--afresh")
    assert "re-planned" not in anew.stdout
