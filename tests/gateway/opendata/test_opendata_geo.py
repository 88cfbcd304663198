"""NGSI-LD geo-queries: whatever georel, geometry and coordinates come, a
GeoError (the API's 400) or a query, never anything else; near and within
agree with a straightforward oracle; and the grid never leaves out an entity
that matches."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.opendata.catalog import Catalog, Selection
from gateway.opendata.geo import GeoError, Grid, Near, Within, parse_geo, point_matches

GEO_CHARS = st.sampled_from(list("near;maxDistance==minwithPolygon0123456789.,-[]{} \"e") +
                            ["near;maxDistance==", "within", "Point", "Polygon", "[[["])


@given(st.one_of(st.none(), st.text(max_size=30), st.lists(GEO_CHARS, max_size=12).map("".join)),
       st.one_of(st.none(), st.sampled_from(["Point", "Polygon", "LineString", "x", ""])),
       st.one_of(st.none(), st.text(max_size=40), st.lists(GEO_CHARS, max_size=20).map("".join),
                 st.recursive(st.floats() | st.integers() | st.booleans() | st.none(),
                              lambda inner: st.lists(inner, max_size=5), max_leaves=20)
                 .map(json.dumps)))
@settings(max_examples=1500, deadline=None)
def test_any_parameters_are_a_geo_query_or_a_geo_error(georel: str | None,
                                                       geometry: str | None,
                                                       coordinates: str | None) -> None:
    try:
        geo = parse_geo(georel, geometry, coordinates)
    except GeoError as e:
        assert str(e) and "\n" not in str(e)
        return
    if geo is not None:
        point_matches(geo, 18.0, 59.0)


LON = st.floats(min_value=17.9, max_value=18.2)
LAT = st.floats(min_value=59.2, max_value=59.4)


def oracle_distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The spherical law of cosines: another formula for the same distance."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6_371_008.8 * math.acos(max(-1.0, min(1.0, c)))


@given(LON, LAT, st.floats(min_value=1, max_value=20_000), st.lists(st.tuples(LON, LAT),
                                                                  max_size=40))
@settings(max_examples=500, deadline=None)
def test_near_agrees_with_the_oracle_and_the_grid_loses_nothing(
        lon: float, lat: float, max_m: float, points: list[tuple[float, float]]) -> None:
    geo = parse_geo(f"near;maxDistance=={max_m:.3f}", "Point", json.dumps([lon, lat]))
    assert isinstance(geo, Near)
    for plon, plat in points:
        d = oracle_distance_m(lat, lon, plat, plon)
        assume(abs(d - geo.max_m) > 0.01)  # type: ignore[operator]
        assert point_matches(geo, plon, plat) == (d <= geo.max_m)  # type: ignore[operator]
    everything = [{"id": f"urn:ngsi-ld:WasteContainer:{i}", "type": "WasteContainer",
                   "location": {"type": "GeoProperty",
                                "value": {"type": "Point", "coordinates": [plon, plat]}}}
                  for i, (plon, plat) in enumerate(points)]
    found = Catalog(everything).select(Selection(types=frozenset({"WasteContainer"}), geo=geo))
    expected = sorted((e["id"] for e, (plon, plat) in zip(everything, points, strict=True)
                       if point_matches(geo, plon, plat)))
    assert [e["id"] for e in found] == expected


@given(LON, LON, LAT, LAT, st.lists(st.tuples(LON, LAT), max_size=40))
@settings(max_examples=500, deadline=None)
def test_within_a_rectangle_agrees_with_the_oracle(x0: float, x1: float, y0: float, y1: float,
                                                   points: list[tuple[float, float]]) -> None:
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    assume(x1 - x0 > 1e-6 and y1 - y0 > 1e-6)
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    geo = parse_geo("within", "Polygon", json.dumps([ring]))
    assert isinstance(geo, Within)
    grid = Grid(enumerate([[p] for p in points]))
    candidates = set(grid.candidates(geo))
    for i, (lon, lat) in enumerate(points):
        assume(min(abs(lon - x0), abs(lon - x1), abs(lat - y0), abs(lat - y1)) > 1e-9)
        inside = x0 < lon < x1 and y0 < lat < y1
        assert point_matches(geo, lon, lat) == inside
        if inside:
            assert i in candidates


def test_a_hole_is_not_within() -> None:
    outer = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]
    geo = parse_geo("within", "Polygon", json.dumps([outer, hole]))
    assert geo is not None
    assert point_matches(geo, 2, 2) and not point_matches(geo, 5, 5)


@pytest.mark.parametrize("georel, geometry, coordinates, words", [
    ("near;maxDistance==10", "Polygon", "[18,59]", "Point"),
    ("near;maxDistance==-1", "Point", "[18,59]", "near;maxDistance"),
    ("near;maxDistance==10;maxDistance==20", "Point", "[18,59]", "near;maxDistance"),
    ("near;maxDistance==10", "Point", "[59.33,181]", "off the Earth"),
    ("near;maxDistance==10", "Point", "[18,", "JSON array"),
    ("within", "Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]", "end where it starts"),
    ("equals", "Point", "[18,59]", "not supported"),
    ("near;maxDistance==10", "Point", "[true,59]", "position"),
])
def test_bad_geo_queries(georel: str, geometry: str, coordinates: str, words: str) -> None:
    with pytest.raises(GeoError, match=words.replace("[", r"\[")):
        parse_geo(georel, geometry, coordinates)
