"""What crews receive: GeoJSON and GPX that parse back to the plan, route
sheets with a map and a table per truck, and the MQTT message per crew."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gateway.config import district_title
from gateway.waste.route_sheets import (
    GPX_NS,
    MapStreet,
    cluster_runs,
    crew_message,
    plan_geojson,
    plan_gpx,
    route_sheets_html,
    svg_map,
    write_plan,
)
from gateway.waste.routing import RoutePlan, Stop, Truck, TruckRoute, Unserved

DEPOT = (60.6749, 17.1413)
G = f"{{{GPX_NS}}}"


def make_plan() -> RoutePlan:
    """A plan as the planner returns it, built by hand so that these tests
    check the output and nothing else."""
    a = [Stop(f"G{i:04d}", 60.675 + i / 1000, 17.14 + i / 500, 70, kind="Hags - Rosen",
              expected_fill_pct=80 + i) for i in range(1, 4)]
    b = [Stop("G0010", 60.66, 17.12, 600, kind="Big Belly källsorteringskärl",
              address="Drottninggatan 1 <A&B>")]
    left = Stop("G0099", 60.70, 17.30, 70, kind="Byarum")
    return RoutePlan(DEPOT, routes=[
        TruckRoute(Truck("truck-1", 1000, 8 * 3600), tuple(a), 4200, 605, 180, 210),
        TruckRoute(Truck("truck-2", 1000, 8 * 3600), tuple(b), 6100, 878, 150, 600),
        TruckRoute(Truck("truck-3", 1000, 8 * 3600), (), 0, 0, 0, 0)],
        unserved=[Unserved(left, "no time: the 3 truck(s)' shifts (8:00 h) are full")],
        problems=["the required bins cannot all be served in one shift (...); left out 1: "
                  "G0099: add a truck or lengthen the shift"])


def test_geojson_parses_back_to_the_plan() -> None:
    plan = make_plan()
    doc = json.loads(json.dumps(plan_geojson(plan, "2026-09-21")))
    assert doc["type"] == "FeatureCollection"
    by_role: dict[str, list[dict[str, object]]] = {}
    for f in doc["features"]:
        assert f["type"] == "Feature"
        by_role.setdefault(f["properties"]["role"], []).append(f)
    assert [f["geometry"]["coordinates"] for f in by_role["depot"]] == [[17.1413, 60.6749]]
    lines = by_role["route"]
    assert [f["properties"]["truck"] for f in lines] == ["truck-1", "truck-2"]  # truck-3: none
    for line, route in zip(lines, plan.routes, strict=False):
        coords = line["geometry"]["coordinates"]  # type: ignore[index]
        assert line["geometry"]["type"] == "LineString"  # type: ignore[index]
        assert coords[0] == coords[-1] == [17.1413, 60.6749]
        assert coords[1:-1] == [[round(s.lon, 6), round(s.lat, 6)] for s in route.stops]
        assert line["properties"]["stops"] == len(route.stops)  # type: ignore[index]
    stops = [(f["properties"]["truck"], f["properties"]["order"], f["properties"]["node_id"],
              f["properties"]["expected_fill_pct"]) for f in by_role["stop"]]
    assert stops == [("truck-1", 1, "G0001", 81), ("truck-1", 2, "G0002", 82),
                     ("truck-1", 3, "G0003", 83), ("truck-2", 1, "G0010", None)]
    [unserved] = by_role["unserved"]
    assert unserved["properties"]["node_id"] == "G0099"  # type: ignore[index]
    assert unserved["properties"]["reason"].startswith("no time")  # type: ignore[index]


def test_gpx_has_a_route_per_truck_and_a_point_per_stop() -> None:
    plan = make_plan()
    root = ET.fromstring(plan_gpx(plan, "2026-09-21"))
    assert root.tag == f"{G}gpx"
    assert root.get("version") == "1.1" and root.get("creator") == "kvarter"
    # GPX 1.1's schema orders the children: metadata, wpt, rte.
    assert [c.tag for c in root] == [f"{G}metadata", f"{G}wpt", f"{G}rte", f"{G}rte", f"{G}rte"]
    wpt = root.find(f"{G}wpt")
    assert wpt is not None and wpt.findtext(f"{G}name") == "depot"
    assert (float(wpt.get("lat", "")), float(wpt.get("lon", ""))) == DEPOT
    routes = root.findall(f"{G}rte")
    for rte, route in zip(routes, plan.routes, strict=True):
        assert rte.findtext(f"{G}name") == route.truck.name
        children = [c.tag.removeprefix(G) for c in rte]
        assert children == ["name", "desc", "number"] + ["rtept"] * len(route.stops)
        points = rte.findall(f"{G}rtept")
        assert [p.findtext(f"{G}name") for p in points] == [
            f"{i} {s.node_id}" for i, s in enumerate(route.stops, 1)]
        assert [(float(p.get("lat", "")), float(p.get("lon", ""))) for p in points] == [
            (round(s.lat, 6), round(s.lon, 6)) for s in route.stops]
    desc = routes[1].find(f"{G}rtept/{G}desc")
    assert desc is not None and desc.text == ("Big Belly källsorteringskärl, "
                                              "Drottninggatan 1 <A&B>")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_route_sheets_have_a_map_and_a_numbered_table_per_truck() -> None:
    plan = make_plan()
    html = route_sheets_html(plan, "2026-09-21", "Gävle")
    parser = Tags()
    parser.feed(html)
    names = [t for t, _ in parser.tags]
    assert names.count("svg") == len(plan.routes) == 3
    assert names.count("section") == 4  # a sheet per truck, and the bins left out
    text = "".join(parser.text)
    assert "Bin routes 2026-09-21 · Gävle" in text
    for r in plan.routes:
        assert f"Route for {r.truck.name}" in text
        assert f"Truck {r.truck.name} · {len(r.stops)} stops · {r.distance_km:.1f} km" in text
    assert "Date 2026-09-21" in text and "est. 0 h 13 min" in text
    assert "No stops on this route." in text
    # Stops: one row each with its order, time (none known: these routes
    # have no legs), must/if time, id, place, type, fill, a tick box and a
    # notes cell.
    assert text.count("Hags - Rosen") == 3
    assert re.search(r"1\s*–\s*● must\s*G0001\s*60\.67600, 17\.14200\s*Hags - Rosen\s*"
                     r"fill 81%", text)
    assert [a.get("class") for t, a in parser.tags if t == "span"].count("box") == 4 + 3
    assert [a.get("class") for t, a in parser.tags if t == "td"].count("x notes") == 4
    assert "Drottninggatan 1 <A&B>" in text and "<A&B>" not in html  # escaped
    assert "G0099" in text and "no time" in text
    assert "@page { size: A4" in html and "break-before: page" in html


def timed_route(n: int = 4, required: bool = True) -> TruckRoute:
    stops = tuple(Stop(f"G{i:04d}", 60.675 + i / 1000, 17.14, 70, required=required or i % 2 == 0,
                       service_s=90, note="unreachable 2026-09-20 09:40: blocked by a car"
                       if i == 2 else "") for i in range(1, n + 1))
    legs = tuple(120 + 10 * i for i in range(n + 1))
    return TruckRoute(Truck("truck-1", 10_000, 8 * 3600), stops, 5000, sum(legs), 90 * n,
                      70 * n, legs)


def test_each_stop_has_its_expected_time() -> None:
    route = timed_route()
    assert route.arrivals_s() == [120, 120 + 90 + 130, 340 + 90 + 140, 570 + 90 + 150]
    html = route_sheets_html(RoutePlan(DEPOT, [route]), "2026-09-21",
                             leave_at=datetime(2026, 9, 21, 7, 0))
    times = re.findall(r'<td class="t">([^<]*)</td>', html)
    assert times == ["07:02", "07:05", "07:09", "07:13"]
    assert "leave 07:00, back about 07:17" in html  # 4 x 90 s at the bins, 700 s driving
    # Without a time to leave at: hours and minutes after leaving.
    html = route_sheets_html(RoutePlan(DEPOT, [route]), "2026-09-21")
    assert re.findall(r'<td class="t">([^<]*)</td>', html) == ["+0:02", "+0:06", "+0:10",
                                                              "+0:14"]


def test_required_and_optional_stops_differ_without_colour() -> None:
    route = timed_route(6, required=False)
    html = route_sheets_html(RoutePlan(DEPOT, [route]), "2026-09-21")
    marks = re.findall(r'<tr class="(req|opt)">.*?<td class="m">([^<]*)</td>', html)
    assert marks == [("opt", "○ if time"), ("req", "● must")] * 3
    assert "● must: 3 stops to empty · ○ if time: 3 optional" in html
    # On the map a must is a filled circle, an optional one open and dashed.
    ns = "{http://www.w3.org/2000/svg}"
    svg = ET.fromstring(svg_map(route.stops, DEPOT))
    circles = svg.findall(f"{ns}circle")
    assert [(c.get("fill"), c.get("stroke-dasharray")) for c in circles] == [
        ("#fff", "3 2"), ("#000", None)] * 3
    # The note the last crew left is on the stop's row, marked.
    assert "⚠ unreachable 2026-09-20 09:40: blocked by a car" in html


def test_the_maps_draw_the_streets_given() -> None:
    route = timed_route()
    streets = [MapStreet(((60.675, 17.139), (60.680, 17.139))),
               MapStreet(((60.676, 17.138), (60.676, 17.142)), drivable=False),
               MapStreet(((61.5, 18.0), (61.6, 18.0)))]  # far away: not drawn
    ns = "{http://www.w3.org/2000/svg}"
    svg = ET.fromstring(svg_map(route.stops, DEPOT, streets))
    paths = svg.findall(f"{ns}path")
    assert [p.get("class") for p in paths] == ["street", "street"]
    assert sum(p.get("d", "").count("M") for p in paths) == 2
    assert svg_map(route.stops, DEPOT).count("<path") == 0


def test_a_long_route_gets_a_detail_map_per_30_stops_and_an_overview() -> None:
    route = timed_route(75)
    html = route_sheets_html(RoutePlan(DEPOT, [route]), "2026-09-21")
    parser = Tags()
    parser.feed(html)
    sections = [a.get("class") for t, a in parser.tags if t == "section"]
    assert sections == ["truck", "part", "part"]
    assert "Stops 31–60 of 75" in html and "Stops 61–75 of 75" in html
    ns = "{http://www.w3.org/2000/svg}"
    svgs = [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", html)]
    assert len(svgs) == 4  # the whole route, and a detail map per part
    clusters = [t.text for t in svgs[0].findall(f"{ns}text") if t.get("class") == "cluster"]
    assert clusters and all(re.fullmatch(r"\d+(–\d+)?", c or "") for c in clusters)
    # Every stop is numbered on its part's map, alone or in a marker of
    # consecutive stops too close to tell apart ("14–18").
    numbered = []
    for svg in svgs[1:]:
        shown: list[int] = []
        for t in svg.findall(f"{ns}text"):
            m = re.fullmatch(r"(\d+)(?:–(\d+))?", t.text or "")
            if m:
                shown.extend(range(int(m[1]), int(m[2] or m[1]) + 1))
        numbered.append(shown)
    assert numbered == [list(range(1, 31)), list(range(31, 61)), list(range(61, 76))]


def test_stops_at_one_corner_share_a_marker_and_markers_do_not_cover_each_other() -> None:
    corner = [Stop(f"C{i}", DEPOT[0] + 0.01, DEPOT[1] + i * 1e-5, 10) for i in range(4)]
    away = [Stop("A", DEPOT[0] + 0.02, DEPOT[1] + 0.02, 10)]
    back = [Stop("B", DEPOT[0] + 0.01, DEPOT[1] + 2e-5, 10, required=False)]  # the corner again
    ns = "{http://www.w3.org/2000/svg}"
    svg = ET.fromstring(svg_map(tuple(corner + away + back), DEPOT))
    assert [t.text for t in svg.findall(f"{ns}text")][1:4] == ["1–4", "5", "6"]  # after Depot
    [run] = svg.findall(f"{ns}rect[@class='run']")
    [six] = [c for c in svg.findall(f"{ns}circle") if c.get("stroke-dasharray")]
    # Stop 6 is where 1-4 are: its marker moves clear of theirs, with a line.
    x, y, w, h = (float(run.get(k, "")) for k in ("x", "y", "width", "height"))
    cx, cy, r = (float(six.get(k, "")) for k in ("cx", "cy", "r"))
    assert cx + r <= x or cx - r >= x + w or cy + r <= y or cy - r >= y + h
    assert len(svg.findall(f"{ns}line")) >= 1


def test_nearby_consecutive_stops_share_a_label() -> None:
    xy = [(0.0, 0.0), (5.0, 0.0), (10.0, 5.0), (100.0, 100.0), (104.0, 100.0), (0.0, 0.0)]
    assert cluster_runs(xy, reach=20) == [range(0, 3), range(3, 5), range(5, 6)]
    assert cluster_runs([], reach=20) == []


def test_the_title_has_the_districts_own_name() -> None:
    assert district_title("Östra Norrmalm", "norrmalm", "streets") == "Östra Norrmalm"
    assert district_title("", "gavle") == "gavle"
    assert district_title("", "district", "Norrmalm streets") == "Norrmalm streets"
    assert district_title(" ", "district", "") == ""
    html = route_sheets_html(make_plan(), "2026-09-21", district_title("", "district"))
    assert "<title>Bin routes 2026-09-21</title>" in html
    assert "district" not in re.sub(r"<style>.*?</style>", "", html, flags=re.S).lower()


def test_route_sheets_are_self_contained() -> None:
    html = route_sheets_html(make_plan(), "2026-09-21")
    parser = Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert "src" not in attrs and "href" not in attrs, tag
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)


def test_the_map_draws_every_stop_the_path_the_depot_and_a_scale() -> None:
    stops = make_plan().routes[0].stops
    svg = ET.fromstring(svg_map(stops, DEPOT))
    ns = "{http://www.w3.org/2000/svg}"
    assert len(svg.findall(f"{ns}circle")) == len(stops)
    numbers = [t.text for t in svg.findall(f"{ns}text")]
    assert numbers[:4] == ["Depot", "1", "2", "3"]
    assert any(n and (n.endswith(" m") or n.endswith(" km")) for n in numbers)
    polyline = svg.find(f"{ns}polyline")
    assert polyline is not None
    points = polyline.get("points", "").split()
    assert len(points) == len(stops) + 2 and points[0] == points[-1]  # from and to the depot
    width, height = (float(v) for v in svg.get("viewBox", "").split()[2:])
    for p in points:
        x, y = (float(v) for v in p.split(","))
        assert 0 <= x <= width and 0 <= y <= height
    # A kilometre east is drawn as long as a kilometre north.
    cos_lat = math.cos(math.radians(DEPOT[0]))
    east = Stop("E", DEPOT[0], DEPOT[1] + 1 / (111.32 * cos_lat), 1)
    north = Stop("N", DEPOT[0] + 1 / 111.32, DEPOT[1], 1)
    line = ET.fromstring(svg_map((east, north), DEPOT)).find(f"{ns}polyline")
    assert line is not None
    (x0, y0), (xe, ye), (xn, yn) = [
        tuple(map(float, p.split(","))) for p in line.get("points", "").split()[:3]]
    assert (ye, xn) == (pytest.approx(y0, abs=0.2), pytest.approx(x0, abs=0.2))
    assert xe - x0 == pytest.approx(y0 - yn, rel=0.01)


def test_crew_message_is_a_compact_route_on_the_crews_topic() -> None:
    route = make_plan().routes[0]
    topic, payload = crew_message(route, "gavle", "2026-09-21", DEPOT)
    assert topic == "kvarter/gavle/crew/truck-1/route"
    assert b" " not in payload
    body = json.loads(payload)
    assert body == {"v": 1, "truck": "truck-1", "date": "2026-09-21", "km": 4.2, "min": 13,
                    "load_l": 210, "depot": [60.6749, 17.1413],
                    "stops": [["G0001", 60.676, 17.142], ["G0002", 60.677, 17.144],
                              ["G0003", 60.678, 17.146]]}
    with pytest.raises(ValueError, match="MQTT topic"):
        crew_message(TruckRoute(Truck("a/b", 1, 1), (), 0, 0, 0, 0), "gavle", "2026-09-21")


def test_write_plan_writes_the_three_files(tmp_path: Path) -> None:
    written = write_plan(make_plan(), tmp_path / "out", "2026-09-21")
    assert sorted(p.name for p in written) == ["route-sheets.html", "routes.geojson",
                                               "routes.gpx"]
    json.loads((tmp_path / "out" / "routes.geojson").read_text())
    ET.parse(tmp_path / "out" / "routes.gpx")
