"""Today's plan as it is kept: the settings the command line and the API
share, refused the same way; each stop's expected time and street; the plan
stored whole; a plan for any day made at once."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.records import Node
from gateway.storage.store import Store
from gateway.streets.geometry import StreetsError
from gateway.streets.network import build, district_streets
from gateway.waste.daily import (
    PlanError,
    PlanRequest,
    plan_and_store,
    shift_start,
    stop_times,
)
from gateway.waste.forecast import HOUR, Forecaster
from gateway.waste.routing import Stop, Truck, TruckRoute

DEPOT = (59.32, 18.05)


@given(st.text(max_size=12), st.text(max_size=14))
@settings(max_examples=300, deadline=None)
def test_any_start_and_day_give_a_time_or_one_clear_error(start: str, day: str) -> None:
    try:
        t = shift_start(start, day)
    except PlanError as e:
        assert "give HH:MM and YYYY-MM-DD" in str(e)
    else:
        assert math.isfinite(t)


@given(st.dates(), st.integers(0, 23), st.integers(0, 59))
@settings(max_examples=200, deadline=None)
def test_every_day_and_minute_is_a_shift_start(day: object, hh: int, mm: int) -> None:
    assert math.isfinite(shift_start(f"{hh:02d}:{mm:02d}", str(day)))


@pytest.mark.parametrize("change, words", [
    ({"depot": (91.0, 18.0)}, "latitude"), ({"trucks": 0}, "trucks"),
    ({"trucks": 101}, "trucks"), ({"capacity_l": 0}, "capacity"),
    ({"shift_h": 0.1}, "shift"), ({"time_limit_s": 601.0}, "time limit"),
    ({"speed_kmh": 0.5}, "speed"), ({"circuity": 0.9}, "circuity"),
    ({"start": "6 o'clock"}, "HH:MM"), ({"day": "2026-02-30"}, "YYYY-MM-DD")])
def test_a_setting_out_of_bounds_is_refused_in_one_line(change: dict[str, object],
                                                        words: str) -> None:
    fields: dict[str, object] = {"depot": DEPOT, "trucks": 1, "capacity_l": 1000, **change}
    with pytest.raises(PlanError, match=words):
        PlanRequest(**fields).checked()  # type: ignore[arg-type]


def test_stops_are_expected_in_order_after_driving_and_service() -> None:
    stops = tuple(Stop(f"B{i}", 59.33, 18.05 + i * 0.01, 100, service_s=60) for i in range(3))
    route = TruckRoute(Truck("truck-1", 1000, 3600), stops, 0, 0, 0, 0)
    times = stop_times(route, DEPOT, 1000.0, circuity=1.0, speed_kmh=36.0)
    # 10 m/s: a hundredth of a degree of longitude here is about 570 m.
    assert 1000 < times[0] < times[1] < times[2]
    assert 50 + 60 < times[1] - times[0] < 65 + 60


def test_the_nearest_named_street_within_reach_names_a_stop() -> None:
    places = build(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Hamngatan"},
         "geometry": {"type": "LineString", "coordinates": [[18.0, 59.0], [18.01, 59.0]]}},
        {"type": "Feature", "properties": {"name": "Kyrkogatan"},
         "geometry": {"type": "MultiLineString",
                      "coordinates": [[[18.0, 59.001], [18.01, 59.001]]]}},
        {"type": "Feature", "properties": {},
         "geometry": {"type": "LineString", "coordinates": [[18.0, 59.0002], [18.01, 59.0002]]}},
    ]})).places
    assert places.place(59.0001, 18.005) == "Hamngatan"  # 11 m; the nameless one is nearer
    assert places.place(59.0009, 18.005) == "Kyrkogatan"
    assert places.place(59.0025, 18.005) == "170 m from Kyrkogatan"
    assert places.place(59.01, 18.005) is None  # a kilometre from any


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["type", "features", "geometry",
                                                       "properties", "name", "coordinates"]),
                                      inner, max_size=4), max_leaves=30))
@settings(max_examples=300, deadline=None)
def test_any_streets_file_names_places_or_is_refused_in_one_line(data: object) -> None:
    try:
        text = json.dumps(data)
    except ValueError:
        return
    try:
        streets = build(text)
    except StreetsError as e:
        assert "\n" not in str(e)
        return
    found = streets.places.place(59.0, 18.0)
    assert found is None or isinstance(found, str)
    assert district_streets((1, text + "{", "f")) is None


def test_a_plan_is_kept_whole_and_the_latest_is_the_days(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite"
    with Store(db) as store:
        for i in range(6):
            store.register(Node(f"B{i}", "bin", 59.33, 18.05 + i * 0.002, "240L"))
    request = PlanRequest(DEPOT, 2, 800, day="2026-09-21", every_bin=True, all_required=True,
                          time_limit_s=0.2)
    first = plan_and_store(db, request, "planner")
    second = plan_and_store(db, request, "planner")
    with Store(db) as store:
        assert store.latest_plan("2026-09-21") == second and store.plan(first.id) == first
        assert store.latest_plan("2026-09-22") is None
        stops = store.plan_stops(second.id)
        assert sorted(s.node_id for s in stops) == [f"B{i}" for i in range(6)]
        assert {r.truck for r in store.plan_routes(second.id)} == {"truck-1", "truck-2"}
        for truck in ("truck-1", "truck-2"):
            mine = store.plan_stops(second.id, truck)
            assert [s.position for s in mine] == list(range(1, len(mine) + 1))
    assert second.settings["capacity_l"] == 800 and second.outcome["unserved"] == []


def test_a_plan_for_a_day_years_ahead_is_made_at_once(tmp_path: Path) -> None:
    # The forecast goes hour by hour from a bin's last report: it stops at
    # its horizon rather than walk to the year 9999.
    f = Forecaster()
    f.observe("B0", time.time(), 10.0)
    assert f.level_at("B0", 2.5e11) == f.level_at("B0", time.time() + 24 * 60 * HOUR)
    db = tmp_path / "g.sqlite"
    with Store(db) as store:
        store.register(Node("B0", "bin", 59.33, 18.05, "240L"))
        store.record_visit("B0", time.time() - 60, "emptied")
    for day in ("0001-01-01", "9999-12-31"):
        plan = plan_and_store(db, PlanRequest(DEPOT, 1, 800, day=day, time_limit_s=0.1), "p")
        assert plan.day == day
