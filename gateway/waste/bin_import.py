"""Bin positions from a GeoJSON file (a city's open data, a GIS export) as
registry nodes.

A bad feature never stops the import: it is skipped, or imported with a
caveat, and described in one line that names it and says what to change.
Feature N becomes node <prefix><N> (1-based, zero-padded), so importing the
same file again gives every bin the same id.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gateway.records import Node, RegistrationError
from gateway.waste.bin_types import Catalogue, Match

TYPE_PROPERTY = "PRODTYP"  # Gävle's name for the bin type
# Bins further than this from the middle of all the others are taken to be
# misplaced (a typing error, a swapped pair, a point at 0,0). A city's bins
# lie well within it: Gävle's municipality reaches 33 km from its middle.
CITY_RADIUS_KM = 100.0
WGS84_NAMES = ("CRS84", "EPSG::4326", "EPSG:4326")
OUT_OF_RANGE_ADVICE = "give WGS84 degrees, [longitude -180..180, latitude -90..90]"


class BinImportError(ValueError):
    """A setting of the import (not the file) that cannot be used."""


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def __post_init__(self) -> None:
        if not (-180 <= self.min_lon < self.max_lon <= 180
                and -90 <= self.min_lat < self.max_lat <= 90):
            raise BinImportError(
                "bounding box must be minlon,minlat,maxlon,maxlat in degrees with "
                f"min < max, got {self}")

    @classmethod
    def parse(cls, text: str) -> BBox:
        parts = text.split(",")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4:
            raise BinImportError(
                f"bounding box {text!r} is not minlon,minlat,maxlon,maxlat, "
                "e.g. 16.8,60.3,17.5,61.0")
        return cls(*values)

    def contains(self, lon: float, lat: float) -> bool:
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat

    def __str__(self) -> str:
        return f"{self.min_lon:g},{self.min_lat:g},{self.max_lon:g},{self.max_lat:g}"


@dataclass
class ImportResult:
    nodes: list[Node] = field(default_factory=list)
    # One line each: what is wrong and what to change. A feature named here was
    # skipped, unless the line says it was imported.
    problems: list[str] = field(default_factory=list)
    # Worth knowing but nothing to fix in the file (an unrecorded type).
    notices: list[str] = field(default_factory=list)
    features: int = 0  # features in the file

    @property
    def skipped(self) -> int:
        return self.features - len(self.nodes)


def check_prefix(prefix: str, count: int) -> int:
    """Raise BinImportError unless prefix makes valid node ids; return the
    number of digits after it."""
    if not prefix:
        raise BinImportError("give a prefix for the node ids, e.g. G")
    width = max(4, len(str(max(count, 1))))
    try:
        Node.from_dict({"node_id": prefix + "0" * width, "role": "bin", "lat": 0, "lon": 0})
    except RegistrationError as e:
        raise BinImportError(f"prefix {prefix!r} cannot start node ids: {e}") from None
    return width


def read_bins(path: Path, prefix: str, catalogue: Catalogue, bbox: BBox | None = None,
              type_property: str = TYPE_PROPERTY) -> ImportResult:
    try:
        data = path.read_bytes()
    except OSError as e:
        return ImportResult(problems=[f"cannot read {path}: {e.strerror or e}"])
    return import_bins(data, prefix, catalogue, bbox, type_property)


def import_bins(data: bytes | str, prefix: str, catalogue: Catalogue, bbox: BBox | None = None,
                type_property: str = TYPE_PROPERTY) -> ImportResult:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        return ImportResult(problems=[f"not JSON ({e}): export the layer as GeoJSON"])
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        return ImportResult(problems=[
            f"not a GeoJSON FeatureCollection (top level is {got!r}): export the bins "
            "as a FeatureCollection of Point features"])
    features = doc.get("features")
    if not isinstance(features, list):
        return ImportResult(problems=["the FeatureCollection has no 'features' list"])
    result = ImportResult(features=len(features))
    width = check_prefix(prefix, len(features))
    crs = _crs_name(doc.get("crs"))
    if crs is not None and not any(crs.endswith(w) for w in WGS84_NAMES):
        result.problems.append(
            f"the file is in {crs}, not WGS84 longitude/latitude: export it as WGS84 "
            "(EPSG:4326)")

    points: list[tuple[int, str, float, float]] = []  # index, label, lon, lat
    for i, feature in enumerate(features, start=1):
        found = _point(i, feature, result.problems)
        if found is not None:
            points.append(found)
    out_of_range = sum(1 for p in result.problems if p.endswith(OUT_OF_RANGE_ADVICE))
    if out_of_range > len(features) // 2 and len(features) >= 4:
        result.problems.insert(0, "most coordinates are out of range: is the file in a "
                               "projected system such as SWEREF 99 TM? export it as WGS84 "
                               "(EPSG:4326)")
    if not points:
        if not any(p.startswith("feature") for p in result.problems):
            result.problems.append(f"no Point features among the {len(features)} features: "
                                   "give each bin as a Point [longitude, latitude]")
        return result

    centre = _middle(points) if len(points) >= 3 else None
    uncoded: Counter[str] = Counter()
    for i, label, lon, lat in points:
        where = _place_problem(label, lon, lat, bbox, centre)
        if where is not None:
            result.problems.append(where)
            continue
        props = feature_properties(features[i - 1])
        bin_type, match = catalogue.resolve(props.get(type_property))
        if match is Match.UNCODED:
            value = props.get(type_property)
            uncoded["no " + type_property if value is None else f"{type_property} {value!r}"] += 1
        elif match is Match.UNKNOWN:
            result.problems.append(
                f"{label}: type {props.get(type_property)!r} is not in the bin catalogue; "
                f"imported as '{bin_type.name}': add [types.\"{props.get(type_property)}\"] "
                "to the catalogue file (--types)")
        try:
            result.nodes.append(Node.from_dict({
                "node_id": f"{prefix}{i:0{width}d}", "role": "bin", "lat": lat, "lon": lon,
                "kind": bin_type.name}))
        except RegistrationError as e:  # the checks above should make this unreachable
            result.problems.append(f"{label}: {e}; skipped")
    for what, n in sorted(uncoded.items()):
        result.notices.append(f"{n} bin(s) with {what} (type not recorded) imported as "
                              f"'{catalogue.generic.name}'")
    # The place checks come after all features are read; list in file order.
    result.problems.sort(key=_feature_number)
    return result


def _feature_number(problem: str) -> int:
    """The feature a problem names; 0 for the file as a whole."""
    words = problem.split(maxsplit=2)
    if len(words) >= 2 and words[0] == "feature":
        return int(words[1].rstrip(":"))
    return 0


def feature_properties(feature: object) -> dict[str, object]:
    props = feature.get("properties") if isinstance(feature, dict) else None
    return props if isinstance(props, dict) else {}


def _label(i: int, feature: object) -> str:
    fid = None
    if isinstance(feature, dict):
        fid = feature.get("id", feature_properties(feature).get("id"))
    if isinstance(fid, (str, int)) and not isinstance(fid, bool) and len(str(fid)) <= 40:
        return f"feature {i} (id {fid!r})"
    return f"feature {i}"


def _point(i: int, feature: object, problems: list[str]) -> tuple[int, str, float, float] | None:
    """(index, label, lon, lat) of a Point feature, or None with a problem."""
    label = _label(i, feature)
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(f"{label}: not a GeoJSON Feature; skipped")
        return None
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict):
        problems.append(f"{label}: has no geometry; skipped: give the bin's position as a Point")
        return None
    if geometry.get("type") != "Point":
        problems.append(f"{label}: geometry is {geometry.get('type')!r}, not a Point; skipped: "
                        "give each bin as a Point")
        return None
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        problems.append(f"{label}: Point has no [longitude, latitude] coordinates; skipped")
        return None
    lon, lat = coords[0], coords[1]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lon, lat)):
        problems.append(f"{label}: coordinates {_short(coords)} are not numbers; skipped: "
                        "give [longitude, latitude] in degrees")
        return None
    # NaN and infinity fail these comparisons too; math.isfinite() is not used
    # because it raises on integers too large for a float.
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        problems.append(f"{label}: coordinates {_short(coords)} are out of range; skipped: "
                        + OUT_OF_RANGE_ADVICE)
        return None
    if lon == 0 and lat == 0:
        problems.append(f"{label}: position is [0, 0], which means a missing position; "
                        "skipped: give the bin's position")
        return None
    return i, label, float(lon), float(lat)


def _middle(points: list[tuple[int, str, float, float]]) -> tuple[float, float]:
    # The median resists outliers: a few misplaced bins do not move it.
    return (statistics.median(p[2] for p in points), statistics.median(p[3] for p in points))


def _place_problem(label: str, lon: float, lat: float, bbox: BBox | None,
                   centre: tuple[float, float] | None) -> str | None:
    """Why a position cannot be where this city's bins are, or None."""
    if bbox is not None:
        if bbox.contains(lon, lat):
            return None
        if bbox.contains(lat, lon):
            return (f"{label}: [{lon}, {lat}] looks swapped (GeoJSON is [longitude, latitude]); "
                    f"skipped: write [{lat}, {lon}]")
        return (f"{label}: [{lon}, {lat}] is outside the bounding box {bbox}; skipped: correct "
                "the position or widen --bbox")
    if centre is None:
        return None
    far_km = distance_km(lon, lat, *centre)
    if far_km <= CITY_RADIUS_KM:
        return None
    if -90 <= lon <= 90 and distance_km(lat, lon, *centre) <= CITY_RADIUS_KM:
        return (f"{label}: [{lon}, {lat}] looks swapped (GeoJSON is [longitude, latitude]); "
                f"skipped: write [{lat}, {lon}]")
    return (f"{label}: [{lon}, {lat}] is {far_km:.0f} km from the other bins (around "
            f"[{centre[0]:.3f}, {centre[1]:.3f}]); skipped: correct the position, or give "
            "--bbox to say where the city is")


def distance_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine) in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, a)))


def _crs_name(crs: object) -> str | None:
    # GeoJSON (RFC 7946) dropped "crs", but GIS tools still write the old form.
    if isinstance(crs, dict) and isinstance(crs.get("properties"), dict):
        name = crs["properties"].get("name")
        return name if isinstance(name, str) else None
    return None


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
