"""Importing bin positions from GeoJSON: a small synthetic file with one of
each fault, garbage that must never raise, valid points that must round-trip,
and, when it is on this machine, Gävle's real open data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.records import Node
from gateway.waste.bin_import import (
    BBox,
    BinImportError,
    Properties,
    address_of,
    import_bins,
    read_bins,
)
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
        "G0006": "Mystery Bin 3000", "G0012": "240L"}
    assert all(n.role == "bin" for n in result.nodes)
    assert (result.nodes[0].lat, result.nodes[0].lon) == (60.675, 17.14)
    p = result.problems
    assert "'LineString', not a Point; skipped" in problem_for(p, 7)
    assert "looks swapped" in problem_for(p, 8) and "write [17.141, 60.6745]" in problem_for(p, 8)
    assert "are not numbers; skipped" in problem_for(p, 9)
    assert "has no geometry; skipped" in problem_for(p, 10)
    assert "[0, 0]" in problem_for(p, 11)
    assert "out of range; skipped" in problem_for(p, 13)
    assert len(p) == 6
    assert all("\n" not in line for line in p + result.notices)
    assert result.skipped == 6
    # Uncoded types are a notice per value, an unknown type one per type: not
    # a problem per bin. The unknown type keeps its name: a catalogue that
    # learns it later plans the bin right.
    assert result.notices == [
        "1 bin(s) with PRODTYP 'Okodad' (type not recorded) imported as 'generic'",
        "1 bin(s) with no PRODTYP (type not recorded) imported as 'generic'",
        "type 'Mystery Bin 3000' (1 bin(s)) is not in the bin catalogue: planned as 'generic' "
        "(80 L) until it is: add [types.\"Mystery Bin 3000\"] with its volume_l to a catalogue "
        "file and import again with --types"]
    assert result.unknown_types == {"Mystery Bin 3000": 1}
    # The gateway learns each known kind's litres and service time with the bin.
    spec = result.nodes[2].kind_spec
    assert spec is not None and (spec.volume_l, spec.compacting) == (120, True)
    assert result.nodes[5].kind_spec is None


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


def test_a_file_in_a_declared_projected_system_is_converted() -> None:
    # SWEREF 99 TM, as Swedish GIS exports often are: metres, not degrees.
    # 617000 E, 6728000 N is in Gävle.
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3006"}},
           "features": [{"type": "Feature", "properties": {},
                         "geometry": {"type": "Point", "coordinates": [617000 + i, 6728000]}}
                        for i in range(5)]}
    result = import_bins(json.dumps(doc), "G", CAT)
    assert result.problems == [] and len(result.nodes) == 5
    assert result.crs == "urn:ogc:def:crs:EPSG::3006"
    assert 60.6 < result.nodes[0].lat < 60.7 and 17.1 < result.nodes[0].lon < 17.2


@pytest.mark.parametrize(("coords", "named"), [
    ([617000, 6728000], "SWEREF 99 TM, Sweden's national grid (EPSG:3006): give --crs EPSG:3006"),
    ([121000, 487000], "RD New, the Dutch national grid (EPSG:28992): give --crs EPSG:28992"),
    ([500000, 4649776], "a UTM zone (northern hemisphere) (EPSG:326NN, NN the zone): give --crs "
                        "EPSG:NNNN"),
])
def test_an_undeclared_projected_file_is_one_line_naming_its_likely_system(
        coords: list[int], named: str) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Point", "coordinates": [coords[0] + 10 * i, coords[1]]}}
        for i in range(50)]}
    result = import_bins(json.dumps(doc), "G", CAT)
    assert result.nodes == []
    assert result.problems == [
        f"50 of 50 positions are not longitude/latitude in degrees: they look like {named} "
        "(or a \"crs\" member in the file), or export the file as WGS84 (EPSG:4326)"]
    # Told the system, the same file imports.
    code = "EPSG:3006" if "3006" in named else "EPSG:28992" if "28992" in named else "EPSG:32632"
    told = import_bins(json.dumps(doc), "G", CAT, crs=code)
    assert told.problems == [] and len(told.nodes) == 50


def test_an_unknown_declared_system_is_one_line() -> None:
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}},
           "features": []}
    result = import_bins(json.dumps(doc), "G", CAT)
    assert len(result.problems) == 1
    assert result.problems[0].startswith("the file's coordinate system")
    with pytest.raises(BinImportError, match="not one PROJ knows"):
        import_bins(json.dumps(doc), "G", CAT, crs="EPSG:nonsense")


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


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(garbage_features(), max_size=8))
def test_garbage_features_give_problems_never_exceptions(features: list[object]) -> None:
    text = json.dumps({"type": "FeatureCollection", "features": features})
    result = import_bins(text, "G", CAT)
    assert result.features == len(features)
    assert all(isinstance(p, str) and p and "\n" not in p for p in result.problems)
    ids = [n.node_id for n in result.nodes]
    assert len(ids) == len(set(ids))
    for n in result.nodes:
        assert -90 <= n.lat <= 90 and -180 <= n.lon <= 180
        assert n.kind in CAT.types or n.kind in result.unknown_types
    # Every feature not imported is named in a problem, or one line says why
    # none was (a file in metres).
    if result.problems and "positions are not longitude/latitude" in result.problems[0]:
        assert len(result.problems) == 1 and result.nodes == []
        return
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


# --- any city's file: its coordinate system and its property names ---------------

# Each system with a box (lon, lat) inside its area of use.
SYSTEMS = {
    "urn:ogc:def:crs:EPSG::3006": (11.0, 55.5, 23.5, 68.5),  # SWEREF 99 TM, Sweden
    "EPSG:28992": (3.5, 50.8, 7.1, 53.4),  # RD New, the Netherlands
    "EPSG:32633": (12.0, 45.0, 18.0, 65.0),  # UTM zone 33N
    "urn:ogc:def:crs:OGC:1.3:CRS84": (-170.0, -80.0, 170.0, 80.0),
}


@st.composite
def city_in_a_system(draw: st.DrawFn) -> tuple[str, list[tuple[float, float]]]:
    system = draw(st.sampled_from(sorted(SYSTEMS)))
    lon0, lat0, lon1, lat1 = SYSTEMS[system]
    lon = draw(st.floats(lon0, lon1 - 0.2))
    lat = draw(st.floats(lat0, lat1 - 0.2))
    # A city: its bins within about 10 km.
    points = draw(st.lists(st.tuples(st.floats(lon, lon + 0.15), st.floats(lat, lat + 0.08)),
                           min_size=1, max_size=20))
    return system, points


@settings(max_examples=60, deadline=None)
@given(city_in_a_system())
def test_positions_in_a_declared_system_convert_back_to_where_they_were(
        city: tuple[str, list[tuple[float, float]]]) -> None:
    from pyproj import Transformer
    system, points = city
    assume((0.0, 0.0) not in points)  # [0, 0] means a missing position, in any system
    to_grid = Transformer.from_crs("EPSG:4326", system, always_xy=True)
    features = [{"type": "Feature", "properties": {"PRODTYP": "Byarum"},
                 "geometry": {"type": "Point", "coordinates": list(to_grid.transform(lon, lat))}}
                for lon, lat in points]
    doc = {"type": "FeatureCollection", "features": features,
           "crs": {"type": "name", "properties": {"name": system}}}
    result = import_bins(json.dumps(doc), "G", CAT)
    assert result.problems == []
    assert len(result.nodes) == len(points)
    for node, (lon, lat) in zip(result.nodes, points, strict=True):
        assert abs(node.lon - lon) < 1e-6 and abs(node.lat - lat) < 1e-6
        assert node.kind == "Byarum"


property_values = st.none() | st.booleans() | st.integers(-10**6, 10**6) \
    | st.floats(allow_nan=True) | st.text(max_size=200) | st.lists(st.integers(), max_size=2)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({"TYP": property_values, "Adress": property_values,
                                       "nr": property_values}), min_size=1, max_size=12),
       st.booleans())
def test_chosen_properties_give_type_address_and_id(props: list[dict[str, object]],
                                                    by_id: bool) -> None:
    features = [{"type": "Feature", "properties": p,
                 "geometry": {"type": "Point", "coordinates": [17.14 + i * 1e-4, 60.67]}}
                for i, p in enumerate(props)]
    doc = {"type": "FeatureCollection", "features": features}
    chosen = Properties(type="TYP", address="Adress", id="nr" if by_id else None)
    result = import_bins(json.dumps(doc), "B", CAT, props=chosen)
    assert all(p and "\n" not in p for p in result.problems + result.notices)
    ids = [n.node_id for n in result.nodes]
    assert len(ids) == len(set(ids))
    by_node = dict(zip(ids, result.nodes, strict=True))
    seen: set[str] = set()
    for i, p in enumerate(props, start=1):
        own = p["nr"]
        if by_id:
            raw = "" if isinstance(own, bool) or not isinstance(own, (str, int, float)) \
                else str(int(own) if isinstance(own, float) and own.is_integer() else own)
            text = " ".join("".join(c if ord(c) >= 32 else " " for c in raw).split())
            if not text:
                assert f"B{i:04d}" not in ids
                continue
            node_id = "B" + "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-"
                                    for c in text)
            if node_id in seen or len(node_id) > 16:
                continue  # named in a problem, not imported
            seen.add(node_id)
        else:
            node_id = f"B{i:04d}"
        node = by_node[node_id]
        address = p["Adress"]
        if isinstance(address, str):
            one_line = "".join(c if ord(c) >= 32 else " " for c in address)
            assert node.address == " ".join(one_line.split())[:120].strip()
        elif isinstance(address, bool) or not isinstance(address, (int, float, str)):
            assert node.address == ""
        assert "\n" not in node.address and len(node.address) <= 120
        kind = p["TYP"]
        if isinstance(kind, str) and kind in CAT.types:
            assert node.kind == kind
        assert node.kind in CAT.types or node.kind in result.unknown_types
    for node in result.nodes:
        assert Node.from_json(node.to_json()) == node  # what the gateway is sent


def test_an_address_is_found_under_common_names_and_osm_tags() -> None:
    assert address_of({"address": "Nygatan 4"}, None) == "Nygatan 4"
    assert address_of({"addr:street": "Drottninggatan", "addr:housenumber": 53},
                      None) == "Drottninggatan 53"
    assert address_of({"address": "Nygatan 4"}, "GATA") == ""
    assert address_of({"GATA": "Kyrkogatan\n 2"}, "GATA") == "Kyrkogatan 2"
