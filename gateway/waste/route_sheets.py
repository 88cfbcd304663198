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

CSS = """
@page { size: A4; margin: 12mm; }
body { font: 10.5pt/1.35 system-ui, sans-serif; color: #000; margin: 0; }
.sheet { max-width: 186mm; margin: 0 auto 12mm; }
@media print { .sheet { break-after: page; page-break-after: always; margin: 0; }
               .sheet:last-child { break-after: auto; page-break-after: auto; } }
h1 { font-size: 16pt; margin: 0 0 2mm; }
p.meta { margin: 0 0 3mm; }
svg.map { width: 100%; height: auto; border: 0.3mm solid #888; }
table { width: 100%; border-collapse: collapse; margin-top: 3mm; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 0.2mm solid #888; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; }
td.notes { width: 30%; }
span.box { display: inline-block; width: 4mm; height: 4mm; border: 0.4mm solid #000; }
.small { font-size: 8.5pt; color: #333; }
"""


def route_sheets_html(plan: RoutePlan, date: str, district: str = "",
                      credit: str | None = None) -> str:
    """Printable route sheets: one A4 section per truck (a map and a numbered
    table of its stops), then the bins left out, if any. credit: the
    streets' data credit (their places are named from it), on every sheet."""
    title = f"Bin routes {date}" + (f", {district}" if district else "")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"]
    for r in plan.routes:
        parts.append(_sheet(r, plan.depot, date, district, credit))
    if plan.unserved or plan.problems:
        parts.append('<section class="sheet"><h1>Not on these routes</h1>')
        for p in plan.problems:
            parts.append(f"<p>{escape(p)}</p>")
        if plan.unserved:
            parts.append("<table><thead><tr><th>Bin</th><th>Position</th><th>Type</th>"
                         "<th>Why</th></tr></thead><tbody>")
            for u in plan.unserved:
                parts.append(f"<tr><td>{escape(u.stop.node_id)}</td><td>{_position(u.stop)}"
                             f"</td><td>{escape(u.stop.kind)}</td><td>{escape(u.reason)}</td></tr>")
            parts.append("</tbody></table>")
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _sheet(r: TruckRoute, depot: tuple[float, float] | None, date: str, district: str,
           credit: str | None = None) -> str:
    meta = [f"Date {escape(date)}", f"Truck {escape(r.truck.name)}", f"{len(r.stops)} stops",
            f"{r.distance_km:.1f} km",
            f"est. {_hm(r.duration_s)} (driving {_hm(r.driving_s)}, at bins {_hm(r.service_s)})",
            f"load {r.load_l:,} of {r.truck.capacity_l:,} L"]
    if district:
        meta.insert(0, escape(district))
    rows = []
    for order, s in enumerate(r.stops, start=1):
        rows.append(f'<tr><td class="n">{order}</td><td>{escape(s.node_id)}</td>'
                    f"<td>{_position(s)}</td><td>{escape(s.kind)}</td>"
                    f'<td class="n">{escape(_fill(s) or "–")}</td>'
                    '<td><span class="box"></span></td>'
                    f'<td class="notes">{escape(s.note)}</td></tr>')
    table = ('<table><thead><tr><th class="n">#</th><th>Bin</th><th>Position</th><th>Type</th>'
             '<th class="n">Expected fill</th><th>Done</th><th>Notes</th></tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>' if rows else
             "<p>No stops on this route.</p>")
    depot_text = "" if depot is None else (
        f'<p class="small">Start and end at the depot, {depot[0]:.5f}, {depot[1]:.5f}.</p>')
    credit_text = "" if not credit else (
        f'<p class="small credit">Places from street data {escape(credit)}.</p>')
    return (f'<section class="sheet"><h1>Route for {escape(r.truck.name)}</h1>'
            f'<p class="meta">{" · ".join(meta)}</p>{svg_map(r.stops, depot)}{depot_text}'
            f"{table}{credit_text}</section>")


def _position(s: Stop) -> str:
    text = f"{s.lat:.5f}, {s.lon:.5f}"
    if s.address:
        text = f"{escape(s.address)}<br><span class=small>{text}</span>"
    return text


def _fill(s: Stop) -> str:
    return "" if s.expected_fill_pct is None else f"{s.expected_fill_pct:.0f}%"


def _hm(seconds: int) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def svg_map(stops: tuple[Stop, ...], depot: tuple[float, float] | None,
            width: int = 700, height: int = 420, margin: int = 24) -> str:
    """An inline SVG of the stops in order: the path from the depot through
    every stop and back, numbered circles, the depot as a square, a scale bar.

    Longitude is scaled by cos(latitude) so that a kilometre is as long east
    to west as north to south (an equirectangular projection: plenty for a
    district a few kilometres across)."""
    points = ([depot] if depot is not None else []) + [(s.lat, s.lon) for s in stops]
    parts = [f'<svg class="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
             f' role="img" aria-label="map of {len(stops)} stops">']
    if not points:
        parts.append("</svg>")
        return "".join(parts)
    lat0 = sum(p[0] for p in points) / len(points)
    k = math.cos(math.radians(lat0))
    xs = [p[1] * k for p in points]
    ys = [p[0] for p in points]
    # At least about 100 m across, so that a single stop does not fill the map.
    span_x = max(max(xs) - min(xs), 100 / METRES_PER_DEGREE)
    span_y = max(max(ys) - min(ys), 100 / METRES_PER_DEGREE)
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin - 20) / span_y)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def project(lat: float, lon: float) -> tuple[float, float]:
        return (width / 2 + (lon * k - cx) * scale, (height - 20) / 2 - (lat - cy) * scale)

    path = [project(*p) for p in points] + ([project(*depot)] if depot is not None else [])
    parts.append('<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="'
                 + " ".join(f"{x:.1f},{y:.1f}" for x, y in path) + '"/>')
    radius = 7 if len(stops) <= 60 else 5 if len(stops) <= 200 else 4
    font = radius * 1.2
    for order, s in enumerate(stops, start=1):
        x, y = project(s.lat, s.lon)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="#fff" '
                     f'stroke="#000" stroke-width="0.8"/><text x="{x:.1f}" y="{y + font / 3:.1f}"'
                     f' font-size="{font:.1f}" text-anchor="middle">{order}</text>')
    if depot is not None:
        x, y = project(*depot)
        parts.append(f'<rect x="{x - 7:.1f}" y="{y - 7:.1f}" width="14" height="14" '
                     f'fill="#c62828"/><text x="{x + 10:.1f}" y="{y + 4:.1f}" font-size="11" '
                     'font-weight="bold">Depot</text>')
    parts.append(_scale_bar(METRES_PER_DEGREE / scale, width, height, margin))
    parts.append(f'<text x="{width - margin}" y="{margin}" font-size="12" '
                 'text-anchor="end">N ↑</text></svg>')
    return "".join(parts)


def _scale_bar(metres_per_unit: float, width: int, height: int, margin: int) -> str:
    # A round length (1, 2 or 5 times a power of ten) near a quarter of the map.
    target = metres_per_unit * width / 4
    power = 10 ** math.floor(math.log10(target))
    length_m = max((m * power for m in (1, 2, 5) if m * power <= target), default=power)
    units = length_m / metres_per_unit
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    y = height - 10
    return (f'<g stroke="#000" stroke-width="1.5"><line x1="{margin}" y1="{y}" '
            f'x2="{margin + units:.1f}" y2="{y}"/><line x1="{margin}" y1="{y - 4}" '
            f'x2="{margin}" y2="{y}"/><line x1="{margin + units:.1f}" y1="{y - 4}" '
            f'x2="{margin + units:.1f}" y2="{y}"/></g><text x="{margin + units + 6:.1f}" '
            f'y="{y + 3}" font-size="11">{label}</text>')


# --- files -------------------------------------------------------------------------

def write_plan(plan: RoutePlan, out_dir: Path, date: str, district: str = "",
               credit: str | None = None) -> list[Path]:
    """routes.geojson, routes.gpx and route-sheets.html in out_dir; credit:
    the streets' data credit, for the sheets."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "routes.geojson": json.dumps({**plan_geojson(plan, date),
                                      **({"attribution": credit} if credit else {})},
                                     ensure_ascii=False, indent=1).encode(),
        "routes.gpx": plan_gpx(plan, date),
        "route-sheets.html": route_sheets_html(plan, date, district, credit).encode(),
    }
    written = []
    for name, data in files.items():
        path = out_dir / name
        path.write_bytes(data)
        written.append(path)
    return written
