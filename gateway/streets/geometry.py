"""A streets file read, and the geometry both street lighting and waste use.

Streets come as a GeoJSON FeatureCollection of LineStrings (or
MultiLineStrings) in WGS84, each with its properties: "name", and in an
OpenStreetMap export "highway", "oneway", "junction" and the rest of its
tags (flat, or under "tags" as some exporters write them). Points are taken
onto a local plane in metres (equirectangular about the file's middle:
plenty for a district or a town a few tens of kilometres across).

Pure logic: no CoAP, no SQLite.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

METRES_PER_DEGREE = 111_320.0
_CELL_M = 50.0

Point = tuple[float, float]


class StreetsError(ValueError):
    """A streets file that cannot be used at all; the message says why."""


@dataclass
class Street:
    name: str  # for messages: the street's name and its feature number
    points: list[Point]  # metres on the local plane
    cum: list[float] = field(default_factory=list)  # distance along at each point
    label: str = ""  # the street's own name ("" when it has none)
    tags: dict[str, str] = field(default_factory=dict)  # its other properties, as text

    def __post_init__(self) -> None:
        self.cum = [0.0]
        for a, b in zip(self.points, self.points[1:], strict=False):
            self.cum.append(self.cum[-1] + math.dist(a, b))

    @property
    def length(self) -> float:
        return self.cum[-1]


@dataclass
class StreetFile:
    streets: list[Street]
    origin: Point  # (lat, lon) of the local plane's origin
    problems: list[str]
    # The file's own name for itself (a GeoJSON "name" member, as GDAL and
    # QGIS write the layer's name), "" when it has none.
    name: str = ""

    def xy(self, lat: float, lon: float) -> Point:
        return project(self.origin, lat, lon)

    def latlon(self, street: Street) -> list[Point]:
        """A street's points as (lat, lon)."""
        return [unproject(self.origin, x, y) for x, y in street.points]


# --- reading the file ------------------------------------------------------------

EARTH_RADIUS_M = 6_371_008.8  # the mean radius


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The distance between two points on the Earth (haversine), in metres:
    one formula for a bin far from its city and a query around a point."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def project(origin: Point, lat: float, lon: float) -> Point:
    lat0, lon0 = origin
    return ((lon - lon0) * METRES_PER_DEGREE * math.cos(math.radians(lat0)),
            (lat - lat0) * METRES_PER_DEGREE)


def unproject(origin: Point, x: float, y: float) -> Point:
    """(lat, lon) of a point of the local plane: project's inverse."""
    lat0, lon0 = origin
    return (lat0 + y / METRES_PER_DEGREE,
            lon0 + x / (METRES_PER_DEGREE * math.cos(math.radians(lat0))))


def _tags(props: object) -> dict[str, str]:
    """A feature's properties as text tags: flat ones, and those of a nested
    "tags" object (osmtogeojson and others), flat ones winning."""
    if not isinstance(props, dict):
        return {}
    out: dict[str, str] = {}
    nested = props.get("tags")
    for source in (nested if isinstance(nested, dict) else {}, props):
        for k, v in source.items():
            if isinstance(k, str) and isinstance(v, str | int | float) \
                    and not isinstance(v, bool):
                out[k] = str(v)
    return out


def credit_of(doc: object) -> str | None:
    """The credit a parsed streets file carries, to be shown wherever its data
    is: a "metadata" object's source and license (as the project's
    OpenStreetMap extracts have them: "© OpenStreetMap contributors,
    ODbL-1.0"), a top-level "attribution" text, or an Overpass export's
    osm3s copyright; None when it carries none."""
    if not isinstance(doc, dict):
        return None
    meta = doc.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("source"), str) and meta["source"]:
        licence = meta.get("license")
        return f"© {meta['source']}" + (f", {licence}" if isinstance(licence, str)
                                         and licence else "")
    if isinstance(doc.get("attribution"), str) and doc["attribution"]:
        return str(doc["attribution"])
    osm3s = doc.get("osm3s")
    if isinstance(osm3s, dict) and isinstance(osm3s.get("copyright"), str):
        return str(osm3s["copyright"])
    return None


def credit(data: bytes | str) -> str | None:
    """credit_of a streets file's text (None for one that is not JSON)."""
    try:
        return credit_of(json.loads(data))
    except (ValueError, RecursionError):
        return None


def read_streets(data: bytes | str) -> StreetFile:
    """Parse a GeoJSON FeatureCollection of LineStrings. A bad feature is
    skipped and described in one line; a file with no usable street raises
    StreetsError."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise StreetsError(f"not JSON ({e}): export the streets as GeoJSON") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" \
            or not isinstance(doc.get("features"), list):
        raise StreetsError("not a GeoJSON FeatureCollection of LineString features")
    problems: list[str] = []
    lines: list[tuple[str, str, dict[str, str], list[tuple[float, float]]]] = []
    for i, feat in enumerate(doc["features"], 1):
        tags = _tags(feat.get("properties") if isinstance(feat, dict) else None)
        label = tags.get("name", "").strip()
        name = f"{label} (feature {i})" if label else f"feature {i}"
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        kind = geom.get("type") if isinstance(geom, dict) else None
        coords = geom.get("coordinates") if isinstance(geom, dict) else None
        if kind == "LineString":
            parts = [coords]
        elif kind == "MultiLineString" and isinstance(coords, list):
            parts = coords
        else:
            problems.append(f"{name}: skipped, geometry is {kind!r}, not a LineString")
            continue
        for part in parts:
            pts = _lonlats(part)
            if pts is None:
                problems.append(f"{name}: skipped, coordinates are not [longitude, latitude] "
                                "pairs in degrees")
            elif len(pts) < 2:
                problems.append(f"{name}: skipped, a street needs at least two points")
            else:
                lines.append((name, label, tags, pts))
    if not lines:
        raise StreetsError("no usable LineString streets in the file"
                           + (f"; first problem: {problems[0]}" if problems else ""))
    all_pts = [p for *_, pts in lines for p in pts]
    origin = (sum(p[1] for p in all_pts) / len(all_pts), sum(p[0] for p in all_pts) / len(all_pts))
    streets = []
    for name, label, tags, pts in lines:
        xy = [project(origin, lat, lon) for lon, lat in pts]
        # Repeated points make zero-length segments: drop them.
        clean = [xy[0]] + [b for a, b in zip(xy, xy[1:], strict=False) if a != b]
        if len(clean) < 2:
            problems.append(f"{name}: skipped, all its points are the same")
            continue
        streets.append(Street(name, clean, label=label, tags=tags))
    if not streets:
        raise StreetsError("no usable LineString streets in the file")
    own = doc.get("name")
    return StreetFile(streets, origin, problems,
                      own.strip()[:120] if isinstance(own, str) and own.isprintable() else "")


def _lonlats(part: object) -> list[tuple[float, float]] | None:
    if not isinstance(part, list):
        return None
    out = []
    for c in part:
        if not isinstance(c, list) or len(c) < 2 or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in c[:2]):
            return None
        lon, lat = float(c[0]), float(c[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return None
        out.append((lon, lat))
    return out


# --- geometry ------------------------------------------------------------------------

def project_on_segment(p: Point, a: Point, b: Point) -> tuple[float, float]:
    """(distance from p to segment ab, fraction 0..1 of the nearest point)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    n = dx * dx + dy * dy
    f = 0.0 if n == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / n))
    return math.hypot(p[0] - a[0] - f * dx, p[1] - a[1] - f * dy), f


def cross(a: Point, b: Point, c: Point, d: Point) -> tuple[float, float] | None:
    """Fractions (s, t) where segment ab meets segment cd, or None."""
    r = (b[0] - a[0], b[1] - a[1])
    q = (d[0] - c[0], d[1] - c[1])
    den = r[0] * q[1] - r[1] * q[0]
    if den == 0:
        return None
    s = ((c[0] - a[0]) * q[1] - (c[1] - a[1]) * q[0]) / den
    t = ((c[0] - a[0]) * r[1] - (c[1] - a[1]) * r[0]) / den
    if 0 <= s <= 1 and 0 <= t <= 1:
        return s, t
    return None


class Grid:
    """Street segments in square cells, to find those near a point quickly."""

    def __init__(self, streets: Sequence[Street], margin: float) -> None:
        self.cells: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for si, st in enumerate(streets):
            for k, (a, b) in enumerate(zip(st.points, st.points[1:], strict=False)):
                x0, x1 = sorted((a[0], b[0]))
                y0, y1 = sorted((a[1], b[1]))
                for cx in range(int((x0 - margin) // _CELL_M), int((x1 + margin) // _CELL_M) + 1):
                    for cy in range(int((y0 - margin) // _CELL_M),
                                    int((y1 + margin) // _CELL_M) + 1):
                        self.cells[(cx, cy)].append((si, k))

    def near(self, p: Point) -> list[tuple[int, int]]:
        return self.cells.get((int(p[0] // _CELL_M), int(p[1] // _CELL_M)), [])

    def crossings(self, streets: Sequence[Street],
                  ) -> Iterator[tuple[int, int, int, int, tuple[float, float]]]:
        """(street a, its segment, street b, its segment, (ta, tb)) for each
        pair of segments of two streets that cross, once each; ta and tb are
        where along each segment (0..1)."""
        seen: set[tuple[int, int, int, int]] = set()
        for cell in self.cells.values():
            for i, (sa, ka) in enumerate(cell):
                for sb, kb in cell[i + 1:]:
                    if sa == sb or (sa, ka, sb, kb) in seen:
                        continue
                    seen.add((sa, ka, sb, kb))
                    A, B = streets[sa], streets[sb]
                    hit = cross(A.points[ka], A.points[ka + 1], B.points[kb], B.points[kb + 1])
                    if hit is not None:
                        yield sa, ka, sb, kb, hit


def nearest(streets: Sequence[Street], grid: Grid, p: Point,
            skip: int = -1) -> tuple[float, int, float] | None:
    """(distance, street, along) of the nearest street point to p."""
    best: tuple[float, int, float] | None = None
    for si, k in grid.near(p):
        if si == skip:
            continue
        st = streets[si]
        d, f = project_on_segment(p, st.points[k], st.points[k + 1])
        if best is None or d < best[0]:
            best = (d, si, st.cum[k] + f * (st.cum[k + 1] - st.cum[k]))
    return best
