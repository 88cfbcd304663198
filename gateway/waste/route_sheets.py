"""What the crews receive for a planned shift: a map layer (GeoJSON), a file
for navigation devices (GPX 1.1), printable route sheets (HTML), and a
compact message per crew for MQTT.

The route sheet is one self-contained HTML file (inline CSS and SVG, no
scripts, fonts or images from elsewhere), so that it prints the same at the
depot with or without a network.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from pathlib import Path

from gateway.waste.routing import RoutePlan, Stop, TruckRoute

GPX_NS = "http://www.topografix.com/GPX/1/1"
METRES_PER_DEGREE = 111_320.0  # of latitude; of longitude times cos(latitude)


# --- GeoJSON -------------------------------------------------------------------

def _lonlat(lat: float, lon: float) -> list[float]:
    return [round(lon, 6), round(lat, 6)]  # 6 decimals: about 0.1 m


def plan_geojson(plan: RoutePlan, date: str = "") -> dict[str, object]:
    """A FeatureCollection: the depot, a LineString per route that has stops
    (depot, stops, depot), a Point per stop, and a Point per required bin left
    out, with the reason. properties.role tells them apart."""
    features: list[dict[str, object]] = []

    def point(lat: float, lon: float, props: dict[str, object]) -> None:
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": "Point", "coordinates": _lonlat(lat, lon)}})

    if plan.depot is not None:
        point(*plan.depot, {"role": "depot", "date": date})
    for r in plan.routes:
        if r.stops and plan.depot is not None:
            line = [_lonlat(*plan.depot)] + [_lonlat(s.lat, s.lon) for s in r.stops] \
                + [_lonlat(*plan.depot)]
            features.append({"type": "Feature", "geometry": {
                "type": "LineString", "coordinates": line}, "properties": {
                "role": "route", "truck": r.truck.name, "date": date, "stops": len(r.stops),
                "distance_km": round(r.distance_km, 2), "duration_min": round(r.duration_s / 60),
                "load_l": r.load_l, "capacity_l": r.truck.capacity_l}})
        for order, s in enumerate(r.stops, start=1):
            point(s.lat, s.lon, {"role": "stop", "truck": r.truck.name, "order": order,
                                 **_stop_properties(s)})
    for u in plan.unserved:
        point(u.stop.lat, u.stop.lon, {"role": "unserved", "reason": u.reason,
                                       **_stop_properties(u.stop)})
    return {"type": "FeatureCollection", "features": features}


def _stop_properties(s: Stop) -> dict[str, object]:
    return {"node_id": s.node_id, "kind": s.kind, "expected_fill_pct": s.expected_fill_pct,
            "litres": s.litres, "required": s.required, "service_s": s.service_s,
            "address": s.address, "note": s.note}


# --- GPX -------------------------------------------------------------------------

def plan_gpx(plan: RoutePlan, date: str = "") -> bytes:
    """GPX 1.1: the depot as a waypoint and one <rte> per truck with a
    <rtept> per stop, named "<order> <node id>", so that a navigation device
    shows the crew the same numbers as the route sheet."""
    ET.register_namespace("", GPX_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None,
           **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, f"{{{GPX_NS}}}{tag}", attrs)
        if text is not None:
            e.text = text
        return e

    gpx = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "kvarter"})
    meta = el(gpx, "metadata")  # GPX's schema fixes the order of the elements
    el(meta, "name", f"Bin routes {date}".strip())
    if plan.depot is not None:
        wpt = el(gpx, "wpt", lat=f"{plan.depot[0]:.6f}", lon=f"{plan.depot[1]:.6f}")
        el(wpt, "name", "depot")
    for number, r in enumerate(plan.routes, start=1):
        rte = el(gpx, "rte")
        el(rte, "name", r.truck.name)
        el(rte, "desc", f"{len(r.stops)} stops, {r.distance_km:.1f} km, {_hm(r.duration_s)}")
        el(rte, "number", str(number))
        for order, s in enumerate(r.stops, start=1):
            pt = el(rte, "rtept", lat=f"{s.lat:.6f}", lon=f"{s.lon:.6f}")
            el(pt, "name", f"{order} {s.node_id}")
            el(pt, "desc", ", ".join(x for x in (s.kind, s.address, _fill(s)) if x))
            el(pt, "type", "bin")
    ET.indent(gpx)
    return bytes(ET.tostring(gpx, encoding="UTF-8", xml_declaration=True)) + b"\n"


# --- MQTT ------------------------------------------------------------------------

def crew_message(route: TruckRoute, district: str, date: str,
                 depot: tuple[float, float] | None = None,
                 prefix: str = "kvarter") -> tuple[str, bytes]:
    """(topic, payload) of a crew's route, published like the gateway's
    reports (QoS 1; gateway/publish/mqtt.py). The stops are [node id, lat, lon] in
    the order to visit them."""
    names = (("prefix", prefix), ("district", district), ("truck name", route.truck.name))
    for what, name in names:
        if not name or any(c in name for c in "/+#"):
            raise ValueError(f"{what} {name!r} cannot be part of an MQTT topic: "
                             "use a name without '/', '+' or '#'")
    body: dict[str, object] = {
        "v": 1, "truck": route.truck.name, "date": date,
        "km": round(route.distance_km, 1), "min": round(route.duration_s / 60),
        "load_l": route.load_l,
        "depot": None if depot is None else [round(depot[0], 6), round(depot[1], 6)],
        "stops": [[s.node_id, round(s.lat, 6), round(s.lon, 6)] for s in route.stops]}
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return f"{prefix}/{district}/crew/{route.truck.name}/route", payload


# --- HTML route sheets -------------------------------------------------------------

# Stops per printed page: each part of a route gets a page with its own
# detail map and its rows, so a truck's sheets are at most one A4 page per
# PART_STOPS stops (measured in Chromium: tests/gateway/waste/test_route_print.py).
PART_STOPS = 30
# Map sizes in the SVG's own units, 5 to a millimetre on paper: a map half the
# page wide is 90 mm, a full-width one 186 mm, both 68 mm high.
HALF_W, FULL_W, MAP_H = 450, 930, 340
MUST = "● must"
IF_TIME = "○ if time"


@dataclass(frozen=True)
class MapStreet:
    """A street to draw under the route, as plain data: its (lat, lon)
    points, and whether trucks drive it (drawn bolder) or not (a footway)."""
    points: tuple[tuple[float, float], ...]
    drivable: bool = True


CSS = """
@page { size: A4; margin: 10mm 12mm; }
* { box-sizing: border-box; }
body { font: 8pt/1.2 system-ui, sans-serif; color: #000; margin: 0; }
.truck, .part { max-width: 186mm; margin: 0 auto; }
.truck { margin-top: 6mm; }
h1 { font-size: 13pt; margin: 0 0 1mm; }
h2 { font-size: 10pt; margin: 0 0 1mm; }
p { margin: 0 0 1mm; }
.legend { font-size: 8pt; }
.maps { display: flex; gap: 2mm; flex-wrap: wrap; margin: 1mm 0; }
.maps figure { flex: 1 1 80mm; margin: 0; min-width: 0; }
.maps figcaption { font-size: 7.5pt; }
svg.map { display: block; width: 100%; height: auto; border: 0.3mm solid #666; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th, td { border: 0.2mm solid #777; padding: 0.3mm 0.8mm; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { font-size: 7.5pt; }
col.n { width: 8mm; } col.t { width: 10mm; } col.m { width: 14mm; } col.b { width: 12mm; }
col.k { width: 27mm; } col.f { width: 9mm; } col.d { width: 9mm; } col.x { width: 26mm; }
td.n, td.m, td.t, td.b, td.f, th { white-space: nowrap; }
td.n, th.n, td.f, th.f { text-align: right; }
td.t { font-variant-numeric: tabular-nums; font-weight: bold; }
tr.opt td.m { font-style: italic; }
tr.opt td.b { border-style: dashed; }
span.box { display: inline-block; width: 3mm; height: 3mm; border: 0.35mm solid #000;
           vertical-align: -0.5mm; }
.note { font-weight: bold; }
.small { font-size: 7.5pt; color: #333; }
.lbl { display: none; }
@media print {
  .truck { margin-top: 0; break-before: page; }
  .truck:first-of-type { break-before: auto; }
  .part { break-before: page; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  /* A type's long name keeps its row to one line on paper. */
  td.k { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
}
/* A phone: each stop a card of its own, nothing wider than the screen. */
@media screen and (max-width: 640px) {
  body { font-size: 14px; padding: 0 8px; }
  .truck, .part { max-width: none; }
  .maps { display: block; }
  .maps figure { margin-bottom: 8px; }
  table, tbody, tr, td { display: block; border: 0; }
  colgroup, thead { display: none; }
  tr { display: grid; grid-template-columns: 2.6em 3.6em 1fr auto;
       grid-template-areas: "n t m f" "n p p p" "n b k d" "n x x x";
       border: 1px solid #777; border-radius: 4px; margin: 6px 0; padding: 4px; column-gap: 6px; }
  tr.opt { border-style: dashed; }
  td { padding: 1px 0; white-space: normal; }
  td.n { grid-area: n; font-size: 20px; font-weight: bold; text-align: left; }
  td.t { grid-area: t; } td.m { grid-area: m; } td.f { grid-area: f; }
  td.p { grid-area: p; font-weight: bold; } td.b { grid-area: b; } td.k { grid-area: k; }
  td.d { grid-area: d; } td.x { grid-area: x; }
  td.x:empty { display: none; }
  .lbl { display: inline; color: #333; }
}
"""


def route_sheets_html(plan: RoutePlan, date: str, district: str = "", *,
                      streets: Sequence[MapStreet] = (),
                      leave_at: datetime | None = None, credit: str | None = None) -> str:
    """Printable route sheets, one section per truck starting on a page of
    its own: a map of the whole route beside the first part's detail map,
    then a page per PART_STOPS stops with that part's map and rows; then the
    bins left out, if any. district is the name people know the district by
    (district_title); leave_at the time the trucks leave the depot, for the
    clock time at each stop (without it, hours and minutes after leaving);
    credit the streets' data credit (their places are named from it), on
    every truck's first page."""
    title = " · ".join(x for x in (f"Bin routes {date}", district) if x)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"]
    for r in plan.routes:
        parts.append(_sheet(r, plan.depot, date, district, streets, leave_at, credit))
    if plan.unserved or plan.problems:
        parts.append('<section class="truck"><h1>Not on these routes</h1>')
        for p in plan.problems:
            parts.append(f"<p>{escape(p)}</p>")
        if plan.unserved:
            parts.append("<table><thead><tr><th>Bin</th><th>Place</th><th>Type</th>"
                         "<th>Why</th></tr></thead><tbody>")
            for u in plan.unserved:
                parts.append(f"<tr><td>{escape(u.stop.node_id)}</td><td>{_position(u.stop)}"
                             f"</td><td>{escape(u.stop.kind)}</td><td>{escape(u.reason)}</td></tr>")
            parts.append("</tbody></table>")
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _clock(leave_at: datetime | None, seconds: int) -> str:
    if leave_at is None:
        minutes = round(seconds / 60)
        return f"+{minutes // 60}:{minutes % 60:02d}"
    return (leave_at + timedelta(seconds=seconds)).strftime("%H:%M")


def _sheet(r: TruckRoute, depot: tuple[float, float] | None, date: str, district: str,
           streets: Sequence[MapStreet], leave_at: datetime | None,
           credit: str | None = None) -> str:
    must = sum(1 for s in r.stops if s.required)
    meta = [f"Date {escape(date)}", f"Truck {escape(r.truck.name)}", f"{len(r.stops)} stops",
            f"{r.distance_km:.1f} km",
            f"est. {_hm(r.duration_s)} (driving {_hm(r.driving_s)}, at bins {_hm(r.service_s)})",
            f"load {r.load_l:,} of {r.truck.capacity_l:,} L"]
    if leave_at is not None and r.stops:
        meta.insert(4, f"leave {_clock(leave_at, 0)}, back about "
                       f"{_clock(leave_at, r.duration_s)}")
    if district:
        meta.insert(0, escape(district))
    head = (f'<h1>Route for {escape(r.truck.name)}</h1><p class="meta">{" · ".join(meta)}</p>'
            f'<p class="legend">{MUST}: {must} stops to empty · {IF_TIME}: '
            f"{len(r.stops) - must} optional, if there is time · times: expected arrival"
            + ("" if leave_at is not None else " after leaving the depot")
            + ' · <span class="box"></span> tick when done</p>')
    if depot is not None:
        head += (f'<p class="small">Start and end at the depot, {depot[0]:.5f}, '
                 f"{depot[1]:.5f}.</p>")
    if credit:
        head += f'<p class="small credit">Places from street data {escape(credit)}.</p>'
    if not r.stops:
        return (f'<section class="truck">{head}{svg_map(r.stops, depot, streets)}'
                "<p>No stops on this route.</p></section>")
    arrivals = r.arrivals_s()
    times = ["–"] * len(r.stops) if arrivals is None else [_clock(leave_at, t) for t in arrivals]
    chunks = [range(i, min(i + PART_STOPS, len(r.stops)))
              for i in range(0, len(r.stops), PART_STOPS)]
    out = []
    for k, chunk in enumerate(chunks):
        rows = _rows(r.stops, chunk, times)
        part_name = f"Stops {chunk[0] + 1}–{chunk[-1] + 1} of {len(r.stops)}"
        if k == 0:
            if len(chunks) == 1:
                maps = _figure(svg_map(r.stops, depot, streets, width=FULL_W),
                               "The route; numbers are the stops' order.", "whole")
            else:
                maps = (_figure(svg_map(r.stops, depot, streets, width=HALF_W, cluster=True),
                                "The whole route; nearby stops share a label.", "whole")
                        + _figure(svg_map(r.stops, depot, streets, width=HALF_W, part=chunk),
                                  part_name + ".", "detail"))
            out.append(f'<section class="truck">{head}<div class="maps">{maps}</div>{rows}'
                       "</section>")
        else:
            maps = _figure(svg_map(r.stops, depot, streets, width=FULL_W, part=chunk),
                           f"{escape(r.truck.name)}: {part_name}.", "detail")
            out.append(f'<section class="part"><h2>{escape(r.truck.name)} · {part_name}'
                       f'</h2><div class="maps">{maps}</div>{rows}</section>')
    return "".join(out)


def _figure(svg: str, caption: str, kind: str) -> str:
    return f'<figure class="{kind}">{svg}<figcaption>{caption}</figcaption></figure>'


def _rows(stops: tuple[Stop, ...], chunk: range, times: list[str]) -> str:
    rows = []
    for i in chunk:
        s = stops[i]
        note = f'<span class="note">⚠ {escape(s.note)}</span>' if s.note else ""
        rows.append(
            f'<tr class="{"req" if s.required else "opt"}"><td class="n">{i + 1}</td>'
            f'<td class="t">{times[i]}</td>'
            f'<td class="m">{MUST if s.required else IF_TIME}</td>'
            f'<td class="b">{escape(s.node_id)}</td><td class="p">{_position(s)}</td>'
            f'<td class="k">{escape(s.kind)}</td>'
            f'<td class="f"><span class="lbl">fill </span>{escape(_fill(s) or "–")}</td>'
            f'<td class="d"><span class="box"></span></td><td class="x notes">{note}</td></tr>')
    return ('<table><colgroup><col class="n"><col class="t"><col class="m"><col class="b">'
            '<col class="p"><col class="k"><col class="f"><col class="d"><col class="x">'
            '</colgroup><thead><tr><th class="n">#</th><th>Time</th><th>Empty</th>'
            '<th>Bin</th><th>Place</th><th>Type</th><th class="f">Fill</th><th>Done</th>'
            f'<th>Notes</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _position(s: Stop) -> str:
    # The coordinates only where there is no place to name: a crew finds
    # the bin by the place; the GPX file carries the position.
    return escape(s.address) if s.address else f"{s.lat:.5f}, {s.lon:.5f}"


def _fill(s: Stop) -> str:
    return "" if s.expected_fill_pct is None else f"{s.expected_fill_pct:.0f}%"


def _hm(seconds: int) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


class _Frame:
    """The projection of one map: an equirectangular plane (longitude scaled
    by cos(latitude), so that a kilometre is as long east to west as north to
    south: plenty for a town) fitted to the points to show."""

    def __init__(self, points: Sequence[tuple[float, float]], width: int, height: int,
                 margin: int, min_m: float) -> None:
        self.width, self.height, self.margin = width, height, margin
        lat0 = sum(p[0] for p in points) / len(points)
        self.k = math.cos(math.radians(lat0))
        xs = [p[1] * self.k for p in points]
        ys = [p[0] for p in points]
        span_x = max(max(xs) - min(xs), min_m / METRES_PER_DEGREE)
        span_y = max(max(ys) - min(ys), min_m / METRES_PER_DEGREE)
        self.scale = min((width - 2 * margin) / span_x, (height - 2 * margin - 20) / span_y)
        self.cx, self.cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        return (self.width / 2 + (lon * self.k - self.cx) * self.scale,
                (self.height - 20) / 2 - (lat - self.cy) * self.scale)

    def shows(self, x: float, y: float, slack: float = 0) -> bool:
        return -slack <= x <= self.width + slack and -slack <= y <= self.height + slack


def _street_paths(streets: Sequence[MapStreet], project: _Frame) -> str:
    """The streets in view as two SVG paths (roads bolder than footways),
    each street thinned to points at least a unit apart."""
    d: dict[bool, list[str]] = {True: [], False: []}
    for st in streets:
        pts = [project(lat, lon) for lat, lon in st.points]
        if not any(project.shows(x, y, 40) for x, y in pts):
            continue
        kept = [pts[0]]
        for p in pts[1:-1]:
            if abs(p[0] - kept[-1][0]) + abs(p[1] - kept[-1][1]) >= 1.5:
                kept.append(p)
        kept.append(pts[-1])
        d[st.drivable].append("M" + "L".join(f"{x:.0f} {y:.0f}" for x, y in kept))
    out = []
    for drivable, width, colour in ((False, 0.6, "#bbb"), (True, 1.6, "#999")):
        if d[drivable]:
            out.append(f'<path class="street" fill="none" stroke="{colour}" '
                       f'stroke-width="{width}" stroke-linecap="round" '
                       f'd="{"".join(d[drivable])}"/>')
    return "".join(out)


def svg_map(stops: tuple[Stop, ...], depot: tuple[float, float] | None,
            streets: Sequence[MapStreet] = (), *, width: int = FULL_W, height: int = MAP_H,
            margin: int = 24, cluster: bool = False, part: range | None = None) -> str:
    """An inline SVG of a route: its streets, the path from the depot through
    every stop and back, the stops (a filled circle must be emptied, an open
    dashed one only if there is time), the depot as a square, a scale bar.

    cluster: the whole route at city scale, each stop a dot and one label per
    run of consecutive stops close together ("41–57"), labels never on top of
    each other. part: a detail map of those stops (0-based positions), each
    numbered, with the route around them in grey."""
    shown = [(s.lat, s.lon) for s in stops] if part is None else \
        [(stops[i].lat, stops[i].lon) for i in part]
    points = shown + ([depot] if depot is not None and part is None else [])
    what = f"{len(stops)} stops" if part is None else f"stops {part[0] + 1} to {part[-1] + 1}"
    parts = [f'<svg class="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
             f' role="img" aria-label="map of {what}">']
    if not points:
        parts.append("</svg>")
        return "".join(parts)
    # At least about 100 m across (150 m for a part), so that a few stops do
    # not fill the map.
    project = _Frame(points, width, height, margin, 100 if part is None else 150)
    parts.append(_street_paths(streets, project))
    route = ([depot] if depot is not None else []) + [(s.lat, s.lon) for s in stops] \
        + ([depot] if depot is not None else [])
    path = [project(*p) for p in route]
    grey = part is not None
    # On a detail map the rest of the route is grey and dashed, unlike a street.
    parts.append(f'<polyline fill="none" stroke="{"#888" if grey else "#000"}" '
                 f'stroke-width="{1 if grey else 1.3}"'
                 + (' stroke-dasharray="5 4"' if grey else "") + ' points="'
                 + " ".join(f"{x:.1f},{y:.1f}" for x, y in path) + '"/>')
    if part is not None:
        off = 1 if depot is not None else 0
        lo, hi = part[0] + off - (1 if part[0] + off > 0 else 0), part[-1] + off + 2
        parts.append('<polyline fill="none" stroke="#000" stroke-width="2.2" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in path[lo:hi]) + '"/>')
    # The depot under the stops: a stop's number matters more than its label.
    if depot is not None:
        x, y = project(*depot)
        if project.shows(x, y):
            parts.append(f'<rect x="{x - 7:.1f}" y="{y - 7:.1f}" width="14" height="14" '
                         f'fill="#000"/><text x="{x + 10:.1f}" y="{y + 5:.1f}" font-size="14" '
                         'font-weight="bold" stroke="#fff" stroke-width="3" '
                         'paint-order="stroke">Depot</text>')
    if cluster:
        parts.append(_clustered(stops, project))
    else:
        parts.append(_numbered(stops, project, part if part is not None else range(len(stops))))
    parts.append(_scale_bar(METRES_PER_DEGREE / project.scale, width, height, margin))
    parts.append(f'<text x="{width - margin}" y="{margin}" font-size="14" '
                 'text-anchor="end">N ↑</text></svg>')
    return "".join(parts)


def _numbered(stops: tuple[Stop, ...], project: _Frame, which: range) -> str:
    """A numbered circle per stop; consecutive stops that would cover each
    other (bins at one corner) share one marker, "14–18". A marker that
    would cover another moves aside, with a line to where its stops are."""
    radius = 9 if len(which) <= 60 else 6
    font = radius * 1.2
    xy = {i: project(stops[i].lat, stops[i].lon) for i in which}
    out: list[str] = []
    placed: list[tuple[float, float, float, float]] = []
    for run in cluster_runs([xy[i] for i in which], reach=radius * 1.6):
        first, last = which[run[0]], which[run[-1]]
        x0 = sum(xy[which[k]][0] for k in run) / len(run)
        y0 = sum(xy[which[k]][1] for k in run) / len(run)
        must = any(stops[which[k]].required for k in run)
        text = f"{first + 1}" if first == last else f"{first + 1}–{last + 1}"
        w = 2 * radius if first == last else len(text) * font * 0.62 + radius
        step = 2 * radius + 1
        x, y = x0, y0
        for dx, dy in ((0, 0), (0, -step), (0, step), (w + 2, 0), (-w - 2, 0), (w + 2, -step),
                       (-w - 2, -step), (w + 2, step), (-w - 2, step), (0, -2 * step),
                       (0, 2 * step)):
            box = (x0 + dx - w / 2, y0 + dy - radius, x0 + dx + w / 2, y0 + dy + radius)
            if all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3]
                   for b in placed):
                x, y = x0 + dx, y0 + dy
                break
        placed.append((x - w / 2, y - radius, x + w / 2, y + radius))
        if (x, y) != (x0, y0):
            out.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                       f'stroke="#000" stroke-width="0.8"/><circle cx="{x0:.1f}" '
                       f'cy="{y0:.1f}" r="2" fill="#000"/>')
        # Filled: must be emptied; open and dashed: only if there is time.
        paint = ('fill="#000"' if must else
                 'fill="#fff" stroke="#000" stroke-width="1.2" stroke-dasharray="3 2"')
        if first == last:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" {paint}/>')
        else:
            out.append(f'<rect class="run" x="{x - w / 2:.1f}" y="{y - radius:.1f}" '
                       f'width="{w:.1f}" height="{2 * radius}" rx="{radius}" {paint}/>')
        ink = ' fill="#fff"' if must else ""
        out.append(f'<text x="{x:.1f}" y="{y + font / 3:.1f}" font-size="{font:.1f}" '
                   f'text-anchor="middle"{ink}>{text}</text>')
    return "".join(out)


CLUSTER_PX = 22  # a run of stops within this of its first stop shares a label
LABEL_FONT = 13


def cluster_runs(xy: Sequence[tuple[float, float]], reach: float = CLUSTER_PX) -> list[range]:
    """Consecutive stops (by position in xy, the route's order) grouped into
    runs that stay within reach of the run's first stop."""
    runs: list[range] = []
    start = 0
    for i in range(1, len(xy) + 1):
        if i == len(xy) or math.dist(xy[i], xy[start]) > reach:
            runs.append(range(start, i))
            start = i
    return runs


def _clustered(stops: tuple[Stop, ...], project: _Frame) -> str:
    xy = [project(s.lat, s.lon) for s in stops]
    out = []
    for (x, y), s in zip(xy, stops, strict=True):
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#000"/>' if s.required else
                   f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#fff" stroke="#000" '
                   'stroke-width="1"/>')
    placed: list[tuple[float, float, float, float]] = []
    # The longest runs are labelled first; a label that would cover another
    # moves round its stops, and is left out where there is no room (each
    # part's detail map numbers every stop).
    for run in sorted(cluster_runs(xy), key=len, reverse=True):
        text = f"{run[0] + 1}" if len(run) == 1 else f"{run[0] + 1}–{run[-1] + 1}"
        cx = sum(xy[i][0] for i in run) / len(run)
        cy = sum(xy[i][1] for i in run) / len(run)
        # Bold digits are about 0.62 of the font size wide, the halo adds 3;
        # a line of text stands about 1.2 of the size above its baseline and
        # 0.45 below (the font's ascent and descent, as the browser boxes it).
        w = len(text) * LABEL_FONT * 0.66 + 6
        for dx, dy in ((0, -12), (0, 16), (w / 2 + 6, 0), (-w / 2 - 6, 0), (w / 2, -16),
                       (-w / 2, -16), (w / 2, 18), (-w / 2, 18)):
            base = cy + dy + LABEL_FONT / 3
            box = (cx + dx - w / 2, base - 1.2 * LABEL_FONT, cx + dx + w / 2,
                   base + 0.45 * LABEL_FONT)
            if box[0] < 0 or box[2] > project.width or box[1] < 0 \
                    or box[3] > project.height - 22:
                continue
            if all(box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3]
                   for b in placed):
                placed.append(box)
                out.append(f'<text class="cluster" x="{cx + dx:.1f}" y="{base:.1f}" '
                           f'font-size="{LABEL_FONT}" text-anchor="middle" font-weight="bold" '
                           'stroke="#fff" stroke-width="3" paint-order="stroke">'
                           f"{text}</text>")
                break
    return "".join(out)


def _scale_bar(metres_per_unit: float, width: int, height: int, margin: int) -> str:
    # A round length (1, 2 or 5 times a power of ten) near a quarter of the map.
    target = metres_per_unit * width / 4
    power = 10 ** math.floor(math.log10(target))
    length_m = max((m * power for m in (1, 2, 5) if m * power <= target), default=power)
    units = length_m / metres_per_unit
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    y = height - 10
    return (f'<rect x="0" y="{y - 12}" width="{margin + units + 60:.0f}" height="22" '
            f'fill="#fff" fill-opacity="0.8"/><g stroke="#000" stroke-width="1.5">'
            f'<line x1="{margin}" y1="{y}" '
            f'x2="{margin + units:.1f}" y2="{y}"/><line x1="{margin}" y1="{y - 4}" '
            f'x2="{margin}" y2="{y}"/><line x1="{margin + units:.1f}" y1="{y - 4}" '
            f'x2="{margin + units:.1f}" y2="{y}"/></g><text x="{margin + units + 6:.1f}" '
            f'y="{y + 3}" font-size="13">{label}</text>')


# --- files -------------------------------------------------------------------------

def write_plan(plan: RoutePlan, out_dir: Path, date: str, district: str = "", *,
               streets: Sequence[MapStreet] = (),
               leave_at: datetime | None = None, credit: str | None = None) -> list[Path]:
    """routes.geojson, routes.gpx and route-sheets.html in out_dir (see
    route_sheets_html for district, streets, leave_at and credit)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "routes.geojson": json.dumps({**plan_geojson(plan, date),
                                      **({"attribution": credit} if credit else {})},
                                     ensure_ascii=False, indent=1).encode(),
        "routes.gpx": plan_gpx(plan, date),
        "route-sheets.html": route_sheets_html(plan, date, district, streets=streets,
                                                leave_at=leave_at, credit=credit).encode(),
    }
    written = []
    for name, data in files.items():
        path = out_dir / name
        path.write_bytes(data)
        written.append(path)
    return written
