"""Driving along the streets: the graph's distances are shortest paths
(triangle inequality, symmetric where every street is two-way), one-way
streets are kept to, footways are not driven, and a point off the streets
gets no street distance (the planner's straight-line estimate instead)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.streets.driving import DrivingStreets, directions, drivable
from gateway.streets.geometry import METRES_PER_DEGREE, read_streets
from gateway.waste.routing import Stop, Truck, haversine_m, plan_routes, travel_matrices

LAT0, LON0 = 59.0, 18.0
K = METRES_PER_DEGREE * math.cos(math.radians(LAT0))


def ll(x: float, y: float) -> list[float]:
    """[lon, lat] of a point x m east and y m north of the origin."""
    return [LON0 + x / K, LAT0 + y / METRES_PER_DEGREE]


def at(x: float, y: float) -> tuple[float, float]:
    lon, lat = ll(x, y)
    return (lat, lon)


def street(coords: list[tuple[float, float]], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "LineString", "coordinates": [ll(x, y) for x, y in coords]}}


def network(*features: dict[str, Any]) -> DrivingStreets:
    return DrivingStreets(read_streets(json.dumps({"type": "FeatureCollection",
                                                   "features": list(features)})))


def grid(size: int, step: float, one_way: list[int]) -> DrivingStreets:
    """size x size junctions step m apart; street i runs along row or column
    i; one_way[i] 0 two-way, 1 drawn direction, -1 against it (the first row
    two-way, so that every junction can be reached from every other). Streets
    share their crossing points, as OpenStreetMap draws them."""
    features = []
    for i in range(size):
        tag = {0: "no", 1: "yes", -1: "-1"}[one_way[i % len(one_way)] if i else 0]
        row = [(j * step, i * step) for j in range(size)]
        col = [(i * step, j * step) for j in range(size)]
        features.append(street(row, name=f"Row {i}", highway="residential", oneway=tag,
                               osm_id=f"way/{i}"))
        features.append(street(col, name=f"Col {i}", highway="residential",
                               oneway="no", osm_id=f"way/c{i}"))
    return network(*features)


points_on_grid = st.lists(st.tuples(st.floats(0, 300), st.floats(0, 300)), min_size=2,
                          max_size=12)


@given(points_on_grid, st.lists(st.sampled_from([0, 1, -1]), min_size=4, max_size=4))
@settings(max_examples=60, deadline=None)
def test_distances_are_shortest_paths(points: list[tuple[float, float]],
                                      one_way: list[int]) -> None:
    g = grid(4, 100.0, one_way)
    d, snapped = g.distances([at(x, y) for x, y in points])
    assert (snapped.piece >= 0).all()  # every point of the square is within 150 m
    n = len(points)
    assert np.isfinite(d).all() and (d >= -1e-9).all()
    assert np.allclose(np.diag(d), 0.0)
    # Triangle inequality: a stop between two others never shortens the way.
    assert (d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-6).all()
    # Never shorter than the straight line between the points' places on
    # the streets (the local plane is the file's, a hair off this test's).
    for i in range(n):
        for j in range(n):
            straight = math.dist(points[i], points[j])
            off = snapped.offset[i] + snapped.offset[j]
            # The hair is relative to every length involved, the offsets too.
            assert d[i, j] >= straight - off - 0.001 * (straight + off) - 1e-3


@given(points_on_grid)
@settings(max_examples=60, deadline=None)
def test_two_way_streets_give_symmetric_distances(points: list[tuple[float, float]]) -> None:
    d, _ = grid(4, 100.0, [0]).distances([at(x, y) for x, y in points])
    assert np.allclose(d, d.T, atol=1e-6)


@given(st.floats(5, 95), st.floats(5, 95))
@settings(max_examples=60, deadline=None)
def test_a_one_way_loop_is_driven_round(a: float, b: float) -> None:
    """A 100 m square drawn anticlockwise, one-way: from a to b on its bottom
    side is b - a when b lies ahead, else the way round (400 m less that)."""
    loop = network(street([(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)], name="Ringen",
                          highway="residential", oneway="yes"))
    d, _ = loop.distances([at(a, 0), at(b, 0)])
    ahead = b - a if b >= a else 400 - (a - b)
    assert math.isclose(d[0, 1], ahead, abs_tol=0.05)
    assert math.isclose(d[0, 1] + d[1, 0], 400 if a != b else 0, abs_tol=0.05)


def test_oneway_minus_one_and_a_roundabout_are_one_way_too() -> None:
    assert directions({"oneway": "-1"}) == (False, True)
    assert directions({"junction": "roundabout"}) == (True, False)
    assert directions({"highway": "motorway"}) == (True, False)
    assert directions({"oneway": "no", "junction": "roundabout"}) == (True, True)
    assert directions({}) == (True, True)
    against = network(street([(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)],
                             highway="residential", oneway="-1"))
    d, _ = against.distances([at(20, 0), at(60, 0)])
    assert math.isclose(d[1, 0], 40, abs_tol=0.05) and math.isclose(d[0, 1], 360, abs_tol=0.05)


def test_footways_are_not_driven() -> None:
    """Two roads joined at one end by a road and at the other by a footway:
    the truck goes round by the road."""
    g = network(street([(0, 0), (0, 200)], highway="residential", osm_id="way/1"),
                street([(100, 0), (100, 200)], highway="residential", osm_id="way/2"),
                street([(0, 200), (100, 200)], highway="residential", osm_id="way/3"),
                street([(0, 0), (100, 0)], highway="footway", osm_id="way/4"))
    d, _ = g.distances([at(0, 1), at(100, 1)])
    assert d[0, 1] > 390
    for tags, ok in (({"highway": "footway"}, False), ({"highway": "pedestrian"}, False),
                     ({"highway": "steps"}, False), ({"highway": "cycleway"}, False),
                     ({"highway": "residential"}, True), ({}, True),
                     ({"highway": "service", "access": "no"}, False)):
        assert drivable(tags) is ok


def test_a_hand_drawn_t_junction_with_a_gap_is_joined() -> None:
    """A side street drawn to stop 3 m short of the main street is joined to it."""
    g = network(street([(0, 0), (200, 0)], name="Storgatan"),
                street([(100, 3), (100, 150)], name="Tvärgatan"))
    d, _ = g.distances([at(10, 0), at(100, 140)])
    assert math.isclose(d[0, 1], 90 + 3 + 137, abs_tol=0.5)


def test_drawn_streets_that_cross_are_joined_but_not_an_exports_bridge() -> None:
    drawn = network(street([(0, 0), (200, 0)]), street([(100, -100), (100, 100)]))
    d, _ = drawn.distances([at(10, 0), at(100, 90)])
    assert math.isclose(d[0, 1], 180, abs_tol=0.5)
    assert drawn.dropped_m == 0
    bridge = network(street([(0, 0), (200, 0)], highway="residential", osm_id="way/1"),
                     street([(100, -150), (100, 150)], highway="residential", osm_id="way/2"))
    # Not joined: two separate parts, of which only the larger is driven.
    assert math.isclose(bridge.dropped_m, 200, abs_tol=0.5)


def test_a_point_far_from_every_street_falls_back_to_the_straight_line() -> None:
    g = grid(3, 100.0, [0])
    points = [at(0, 0), at(200, 200), at(100, 500)]  # the last 300 m north of the grid
    d, snapped = g.distances(points)
    assert snapped.piece[2] == -1 and np.isnan(d[2]).all() and np.isnan(d[:, 2]).all()
    dist, dur = travel_matrices(points, 1.3, 36.0, g)
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    assert dist[0, 2] == round(float(haversine_m(lat[0], lon[0], lat[2], lon[2])) * 1.3)
    assert dist[0, 1] == 400  # along the streets
    assert dur[0, 1] == 40  # at 10 m/s
    stops = [Stop("ON", *points[1], litres=10), Stop("OFF", *points[2], litres=10)]
    plan = plan_routes(points[0], stops, [Truck("truck-1", 100, 3600)], time_limit_s=0.2,
                       streets=g)
    assert plan.distances == "streets" and plan.straight_line == ["OFF"]
    assert any("OFF" in p and "straight lines" in p for p in plan.problems)
    assert plan.stops_served == 2


def test_streets_of_another_town_leave_the_plan_on_straight_lines() -> None:
    g = grid(3, 100.0, [0])
    far = [Stop(f"F{i}", *at(5000 + 100 * i, 5000), litres=10) for i in range(3)]
    plan = plan_routes(at(5000, 5100), far, [Truck("truck-1", 100, 3600)], time_limit_s=0.2,
                       streets=g)
    assert plan.distances == "straight line" and plan.stops_served == 3
    assert sorted(plan.straight_line) == ["F0", "F1", "F2"]
    assert sum(1 for p in plan.problems if "straight lines" in p) == 1


def test_a_streets_file_gives_its_name_and_its_points_back() -> None:
    line = [(0.0, 0.0), (300.0, 0.0), (300.0, 200.0)]
    doc = {"type": "FeatureCollection", "name": "Norrmalm", "features": [street(line)]}
    sf = read_streets(json.dumps(doc))
    assert sf.name == "Norrmalm"
    # The points as the maps draw them: back to (lat, lon), to well under a metre.
    for (lat, lon), (x, y) in zip(sf.latlon(sf.streets[0]), [(0, 0), (300, 0), (300, 200)],
                                  strict=True):
        assert haversine_m(np.array(lat), np.array(lon), *(np.array(v) for v in at(x, y))) \
            < 0.01
    for name in (None, 7, "two\nlines"):
        assert read_streets(json.dumps({**doc, "name": name})).name == ""
