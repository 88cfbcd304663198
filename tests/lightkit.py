"""Streets and poles for the lighting tests: drawn in metres on a local
plane around a point in Stockholm, written as WGS84 GeoJSON."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from gateway.records import Node

ORIGIN = (59.3300, 18.0600)
M_PER_DEG = 111_320.0

XY = tuple[float, float]


def lonlat(x: float, y: float) -> list[float]:
    lat0, lon0 = ORIGIN
    return [lon0 + x / (M_PER_DEG * math.cos(math.radians(lat0))), lat0 + y / M_PER_DEG]


def geojson(streets: Sequence[tuple[str, Sequence[XY]]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": name},
         "geometry": {"type": "LineString", "coordinates": [lonlat(*p) for p in pts]}}
        for name, pts in streets]})


def point_along(path: Sequence[XY], s: float) -> XY:
    """The point s metres along a polyline."""
    for a, b in zip(path, path[1:], strict=False):
        seg = math.dist(a, b)
        if s <= seg:
            f = s / seg
            return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))
        s -= seg
    return path[-1]


def pole(node_id: str, x: float, y: float, zone: str = "street-1",
         addr: int | None = None) -> Node:
    lon, lat = lonlat(x, y)
    return Node(node_id, "light", lat, lon, zone, addr)
