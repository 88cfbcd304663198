"""Importing bin positions from GeoJSON: a small synthetic file with one of
each fault, garbage that must never raise, valid points that must round-trip,
and, when it is on this machine, Gävle's real open data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.waste.bin_import import BBox, BinImportError, import_bins, read_bins
from gateway.waste.bin_types import GENERIC, Catalogue

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "bins_sample.geojson"
GAVLE = Path(__file__).resolve().parents[4] / "shared" / "data" / "gavle-papperskorgar.geojson"
CAT = Catalogue.default()


def problem_for(problems: list[str], feature: int) -> str:
    found = [p for p in problems if p.startswith(f"feature {feature}:")
             or p.startswith(f"feature {feature} (")]
    assert len(found) == 1, (feature, problems)
    return found[0]


def test_the_sample_file_imports_its_good_bins_and_names_each_bad_one() -> None:
    result = read_bins(SAMPLE, "G", CAT)
    assert result.features == 13
    assert {n.node_id: n.kind for n in result.nodes} == {
        "G0001": "Hags - Rosen", "G0002": "JCDecaux - Standard",
        "G0003": "Big Belly källsorteringskärl", "G0004": GENERIC, "G0005": GENERIC,
        "G0006": GENERIC, "G0012": "240L"}
    assert all(n.role == "bin" for n in result.nodes)
    assert (result.nodes[0].lat, result.nodes[0].lon) == (60.675, 17.14)
    p = result.problems
    assert "'Mystery Bin 3000' is not in the bin catalogue; imported as 'generic'" \
        in problem_for(p, 6)
    assert "add [types.\"Mystery Bin 3000\"] to the catalogue file" in problem_for(p, 6)
    assert "'LineString', not a Point; skipped" in problem_for(p, 7)
    assert "looks swapped" in problem_for(p, 8) and "write [17.141, 60.6745]" in problem_for(p, 8)
    assert "are not numbers; skipped" in problem_for(p, 9)
    assert "has no geometry; skipped" in problem_for(p, 10)
    assert "[0, 0]" in problem_for(p, 11)
    assert "out of range; skipped" in problem_for(p, 13)
    assert len(p) == 7
    assert all("\n" not in line for line in p + result.notices)
    assert result.skipped == 6
    # Uncoded types are a notice per value, not a problem per bin.
    assert result.notices == ["1 bin(s) with PRODTYP 'Okodad' (type not recorded) imported as "
                              "'generic'",
                              "1 bin(s) with no PRODTYP (type not recorded) imported as 'generic'"]


def test_a_feature_id_is_named_in_its_problem() -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "park-7", "geometry": {"type": "Polygon", "coordinates": []},
         "properties": {}}]}
    result = import_bins(json.dumps(doc), "G", CAT)
    assert result.problems[0].startswith("feature 1 (id 'park-7'): geometry is 'Polygon'")


@pytest.mark.parametrize("data, expect", [
    (b"\x89PNG\r\n", "not JSON"),
    ("{\"type\": \"Feature\"}", "not a GeoJSON FeatureCollection (top level is 'Feature')"),
    ("[1, 2]", "not a GeoJSON FeatureCollection (top level is 'list')"),
    ('{"type": "FeatureCollection", "features": 3}', "has no 'features' list"),
    ('{"type": "FeatureCollection", "features": []}', "no Point features among the 0"),
])
def test_a_file_that_is_not_bins_gets_one_problem(data: bytes | str, expect: str) -> None:
    result = import_bins(data, "G", CAT)
    assert result.nodes == []
    assert len(result.problems) == 1 and expect in result.problems[0]


def test_a_projected_file_is_recognised() -> None:
    # SWEREF 99 TM, as Swedish GIS exports often are: metres, not degrees.
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3006"}},
           "features": [{"type": "Feature", "properties": {},
                         "geometry": {"type": "Point", "coordinates": [617000 + i, 6728000]}}
                        for i in range(5)]}
    result = import_bins(json.dumps(doc), "G", CAT)
    assert result.nodes == []
    assert any("EPSG::3006, not WGS84" in p for p in result.problems)
    assert any("projected system" in p for p in result.problems)


def test_a_bounding_box_skips_bins_outside_and_spots_swapped_ones() -> None:
    box = BBox.parse("17.0,60.6,17.3,60.8")
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": c}}
        for c in ([17.14, 60.67], [18.07, 59.33], [60.67, 17.14])]}
    result = import_bins(json.dumps(doc), "X", CAT, box)
    assert [n.node_id for n in result.nodes] == ["X0001"]
    assert "outside the bounding box 17,60.6,17.3,60.8" in problem_for(result.problems, 2)
    assert "looks swapped" in problem_for(result.problems, 3)


def test_a_bin_far_from_all_the_others_is_skipped_without_a_bounding_box() -> None:
    coords = [[17.14, 60.67], [17.15, 60.68], [17.13, 60.66], [2.35, 48.85]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": c}}
        for c in coords]}
    result = import_bins(json.dumps(doc), "G", CAT)
    assert len(result.nodes) == 3
    assert "km from the other bins" in problem_for(result.problems, 4)


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "17.3,60.6,17.0,60.8", "0,0,200,10"])
def test_a_bad_bounding_box_is_refused(text: str) -> None:
    with pytest.raises(BinImportError, match="minlon,minlat,maxlon,maxlat"):
        BBox.parse(text)


@pytest.mark.parametrize("prefix", ["", "G/", "ABCDEFGHIJKLM"])
def test_a_prefix_that_cannot_make_node_ids_is_refused(prefix: str) -> None:
    with pytest.raises(BinImportError):
        import_bins('{"type": "FeatureCollection", "features": []}', prefix, CAT)


# --- properties -------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


@st.composite
def garbage_features(draw: st.DrawFn) -> object:
    """Anything, and things that look nearly like a Point feature."""
    coords = draw(st.one_of(json_values, st.lists(json_values, max_size=4),
                            st.lists(st.floats() | st.integers(), min_size=2, max_size=3)))
    near = {"type": draw(st.sampled_from(["Feature", "feature", None])),
            "geometry": draw(st.one_of(json_values, st.fixed_dictionaries({
                "type": st.sampled_from(["Point", "LineString", "point"]),
                "coordinates": st.just(coords)}))),
            "properties": draw(st.one_of(json_values, st.fixed_dictionaries(
                {"PRODTYP": json_values}))),
            "id": draw(json_values)}
    return draw(st.one_of(json_values, st.just(near)))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(garbage_features(), max_size=8))
def test_garbage_features_give_problems_never_exceptions(features: list[object]) -> None:
    text = json.dumps({"type": "FeatureCollection", "features": features})
    result = import_bins(text, "G", CAT)
    assert result.features == len(features)
    assert all(isinstance(p, str) and p and "\n" not in p for p in result.problems)
    ids = [n.node_id for n in result.nodes]
    assert len(ids) == len(set(ids))
    for n in result.nodes:
        assert -90 <= n.lat <= 90 and -180 <= n.lon <= 180 and n.kind in CAT.types
    # Every feature not imported is named in a problem.
    for i in range(1, len(features) + 1):
        if f"G{i:04d}" not in ids:
            assert any(p.startswith(f"feature {i}:") or p.startswith(f"feature {i} (")
                       for p in result.problems)


@st.composite
def valid_points(draw: st.DrawFn) -> tuple[float, float, str]:
    # Within 20 km of Gävle's centre, as a city's bins are.
    lon = draw(st.floats(16.9, 17.4))
    lat = draw(st.floats(60.55, 60.8))
    return lon, lat, draw(st.sampled_from(sorted(CAT.types)))


@given(st.lists(valid_points(), min_size=1, max_size=30), st.sampled_from(["G", "bin-", "Q7"]))
def test_valid_points_round_trip(points: list[tuple[float, float, str]], prefix: str) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"PRODTYP": kind},
         "geometry": {"type": "Point", "coordinates": [lon, lat]}} for lon, lat, kind in points]}
    result = import_bins(json.dumps(doc), prefix, CAT)
    assert result.problems == [] and result.notices == []
    assert [(n.node_id, n.lon, n.lat, n.kind) for n in result.nodes] == [
        (f"{prefix}{i:04d}", lon, lat, kind) for i, (lon, lat, kind) in enumerate(points, 1)]


# --- the real thing, when it is here ------------------------------------------------

@pytest.mark.skipif(not GAVLE.exists(), reason="Gävle's open data is not on this machine")
def test_gavles_open_data_imports_whole() -> None:
    result = read_bins(GAVLE, "G", CAT)
    assert result.features == len(result.nodes) == 1375
    assert result.problems == []
    assert sum(int(n.split()[0]) for n in result.notices) == 37 + 25 + 3
