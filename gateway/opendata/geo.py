"""NGSI-LD geo-queries (ETSI GS CIM 009, 4.10): `georel` with `geometry`
and `coordinates` (GeoJSON order, longitude first), and a coarse grid over
the entities' positions so that a query near a point looks at the few cells
around it instead of the whole district.

What is taken: `near;maxDistance==<m>` (and `minDistance`) around a Point,
and `within` a Polygon (holes included). Distances are great-circle metres
on a sphere of the Earth's mean radius: within a district, the difference
from the ellipsoid is centimetres."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.streets.geometry import EARTH_RADIUS_M, great_circle_m

MAX_POSITIONS = 1000  # of a polygon: a district's outline needs far fewer
CELL_DEG = 0.01  # about 1.1 km north-south


class GeoError(ValueError):
    """A geo-query that cannot be taken; the message says why."""


LonLat = tuple[float, float]


@dataclass(frozen=True)
class Near:
    lon: float
    lat: float
    max_m: float | None
    min_m: float | None


@dataclass(frozen=True)
class Within:
    rings: tuple[tuple[LonLat, ...], ...]  # the outer ring, then its holes


GeoQuery = Near | Within

_NEAR = re.compile(r"near;(maxDistance|minDistance)==([0-9]+(?:\.[0-9]+)?)"
                   r"(?:;(maxDistance|minDistance)==([0-9]+(?:\.[0-9]+)?))?")




def _position(value: object, what: str) -> LonLat:
    if not isinstance(value, list) or len(value) not in (2, 3) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            for x in value):
        raise GeoError(f"coordinates: {what} must be a position [longitude, latitude]")
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GeoError(f"coordinates: {what} [{lon:g}, {lat:g}] is off the Earth: give "
                       "[longitude, latitude], longitude first")
    return lon, lat


def parse_geo(georel: str | None, geometry: str | None, coordinates: str | None,
              geoproperty: str | None = None) -> GeoQuery | None:
    """The geo-query these parameters make (None: no geo-query), or GeoError."""
    if georel is None and geometry is None and coordinates is None:
        return None
    if georel is None or geometry is None or coordinates is None:
        raise GeoError("a geo-query needs georel, geometry and coordinates together, e.g. "
                       "georel=near;maxDistance==1000&geometry=Point&coordinates=[18.06,59.33]")
    if geoproperty not in (None, "location"):
        raise GeoError(f"geoproperty {geoproperty!r}: only location can be queried here")
    if len(coordinates) > 100_000:
        raise GeoError("coordinates are too long; simplify the polygon")
    try:
        coords = json.loads(coordinates)
    except (ValueError, RecursionError):
        raise GeoError("coordinates must be a JSON array, e.g. [18.06,59.33] for a Point") \
            from None
    if georel.startswith("near"):
        m = _NEAR.fullmatch(georel)
        if m is None or (m.group(3) is not None and m.group(3) == m.group(1)):
            raise GeoError(f"georel {georel!r}: write near;maxDistance==<metres> (and/or "
                           "near;minDistance==<metres>)")
        if geometry != "Point":
            raise GeoError(f"georel near goes with geometry Point, not {geometry!r}")
        lon, lat = _position(coords, "a Point")
        bounds = {m.group(1): float(m.group(2))}
        if m.group(3) is not None:
            bounds[m.group(3)] = float(m.group(4))
        return Near(lon, lat, bounds.get("maxDistance"), bounds.get("minDistance"))
    if georel == "within":
        if geometry != "Polygon":
            raise GeoError(f"georel within goes with geometry Polygon, not {geometry!r}")
        if not isinstance(coords, list) or not coords:
            raise GeoError("coordinates: a Polygon is a list of rings, "
                           "[[[lon,lat],[lon,lat],[lon,lat],[lon,lat]]]")
        rings = []
        count = 0
        for ring in coords:
            if not isinstance(ring, list) or len(ring) < 4:
                raise GeoError("coordinates: each ring of a Polygon needs at least 4 positions, "
                               "the last the same as the first")
            count += len(ring)
            if count > MAX_POSITIONS:
                raise GeoError(f"coordinates: a Polygon of more than {MAX_POSITIONS} positions; "
                               "simplify it")
            points = tuple(_position(p, "each corner of a Polygon") for p in ring)
            if points[0] != points[-1]:
                raise GeoError("coordinates: a Polygon's ring must end where it starts")
            rings.append(points)
        return Within(tuple(rings))
    if geometry not in ("Point", "Polygon", "LineString", "MultiPoint", "MultiLineString",
                        "MultiPolygon"):
        raise GeoError(f"geometry {geometry!r} is not a GeoJSON geometry type")
    raise GeoError(f"georel {georel.split(';')[0]!r} is not supported here; use "
                   "near;maxDistance==<metres> with a Point or within with a Polygon")


def _in_ring(lon: float, lat: float, ring: Sequence[LonLat]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if (y1 > lat) != (y2 > lat):
            x = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < x:
                inside = not inside
    return inside


def point_matches(geo: GeoQuery, lon: float, lat: float) -> bool:
    if isinstance(geo, Near):
        d = great_circle_m(geo.lat, geo.lon, lat, lon)
        return (geo.max_m is None or d <= geo.max_m) and (geo.min_m is None or d >= geo.min_m)
    outer, *holes = geo.rings
    return _in_ring(lon, lat, outer) and not any(_in_ring(lon, lat, h) for h in holes)


def positions_match(geo: GeoQuery, positions: Sequence[LonLat]) -> bool:
    """A Point or MultiPoint location: near when any of its points is (within
    maxDistance), within when all of them are."""
    if not positions:
        return False
    if isinstance(geo, Near) and geo.min_m is None:
        return any(point_matches(geo, lon, lat) for lon, lat in positions)
    return all(point_matches(geo, lon, lat) for lon, lat in positions)


def _bounds(geo: GeoQuery) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) that every match lies in; None:
    anywhere (minDistance alone)."""
    if isinstance(geo, Near):
        if geo.max_m is None:
            return None
        dlat = math.degrees(geo.max_m / EARTH_RADIUS_M) * 1.001
        cos = math.cos(math.radians(min(89.0, abs(geo.lat) + dlat)))
        dlon = min(360.0, dlat / max(cos, 1e-6))
        return geo.lon - dlon, geo.lat - dlat, geo.lon + dlon, geo.lat + dlat
    outer = geo.rings[0]
    return (min(p[0] for p in outer), min(p[1] for p in outer),
            max(p[0] for p in outer), max(p[1] for p in outer))


class Grid:
    """Items by the cells their points fall in; candidates() gives those that
    may match a geo-query (a superset), in the order they were added."""

    def __init__(self, items: Iterable[tuple[int, Sequence[LonLat]]]) -> None:
        self._cells: dict[tuple[int, int], list[int]] = {}
        self._all: list[int] = []
        for index, positions in items:
            self._all.append(index)
            seen = set()
            for lon, lat in positions:
                cell = (math.floor(lon / CELL_DEG), math.floor(lat / CELL_DEG))
                if cell not in seen:
                    seen.add(cell)
                    self._cells.setdefault(cell, []).append(index)

    def candidates(self, geo: GeoQuery) -> list[int]:
        box = _bounds(geo)
        if box is None:
            return self._all
        x0, y0 = math.floor(box[0] / CELL_DEG), math.floor(box[1] / CELL_DEG)
        x1, y1 = math.floor(box[2] / CELL_DEG), math.floor(box[3] / CELL_DEG)
        if (x1 - x0 + 1) * (y1 - y0 + 1) > len(self._cells):
            return self._all
        found: set[int] = set()
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                found.update(self._cells.get((x, y), ()))
        return sorted(found)
