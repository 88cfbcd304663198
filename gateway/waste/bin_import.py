"""Bin positions from a GeoJSON file (a city's open data, a GIS export) as
registry nodes.

A bad feature never stops the import: it is skipped, or imported with a
caveat, and described in one line that names it and says what to change.
Feature N becomes node <prefix><N> (1-based, zero-padded), so importing the
same file again gives every bin the same id; or, with an id property, node
<prefix><the file's own id>, which stays the same when the file is reordered.

Positions may be in any coordinate system the file declares (GeoJSON's old
"crs" member, which GIS tools still write) or the importer is told: they are
converted to WGS84 with PROJ (pyproj). A file in metres that declares nothing
gets one line naming the system it most likely is in.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from firmware.checks import ID_CHARS
from gateway.records import ADDRESS_MAX, Node, RegistrationError
from gateway.streets.geometry import great_circle_m
from gateway.waste.bin_types import KIND_MAX, Catalogue, Match

TYPE_PROPERTY = "PRODTYP"  # Gävle's name for the bin type
# Bins further than this from the middle of all the others are taken to be
# misplaced (a typing error, a swapped pair, a point at 0,0). A city's bins
# lie well within it: Gävle's municipality reaches 33 km from its middle.
CITY_RADIUS_KM = 100.0
WGS84_NAMES = ("CRS84", "EPSG::4326", "EPSG:4326")
OUT_OF_RANGE_ADVICE = "give WGS84 degrees, [longitude -180..180, latitude -90..90]"
# Where no address property is named, the first of these a feature has; then
# OpenStreetMap's street and house number.
ADDRESS_PROPERTIES = ("address", "adress", "addr:full")
# Projected systems recognised by the range of their coordinates (metres):
# (name, EPSG code, easting range, northing range).
GRIDS = (
    ("SWEREF 99 TM, Sweden's national grid", "EPSG:3006", (180_000, 1_000_000),
     (6_100_000, 7_700_000)),
    ("RD New, the Dutch national grid", "EPSG:28992", (-7_000, 300_000), (289_000, 629_000)),
    ("a UTM zone (northern hemisphere)", "EPSG:326NN, NN the zone", (100_000, 900_000),
     (0, 9_400_000)),
)


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
    crs: str | None = None  # the system positions were converted from
    # Types the catalogue lacks, with their bins: registered under the file's
    # name, planned as generic until the catalogue has them.
    unknown_types: Counter[str] = field(default_factory=Counter)

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


@dataclass(frozen=True)
class Properties:
    """Which of a feature's properties say what: the bin's type, its address
    and its own id (None: not in this file)."""
    type: str = TYPE_PROPERTY
    address: str | None = None  # None: ADDRESS_PROPERTIES, then OSM's addr:*
    id: str | None = None


def read_bins(path: Path, prefix: str, catalogue: Catalogue, bbox: BBox | None = None,
              props: Properties = Properties(), crs: str | None = None) -> ImportResult:
    try:
        data = path.read_bytes()
    except OSError as e:
        return ImportResult(problems=[f"cannot read {path}: {e.strerror or e}"])
    return import_bins(data, prefix, catalogue, bbox, props, crs)


Convert = Callable[[float, float], tuple[float, float]]


def converter(name: str) -> Convert | None:
    """A function from the named system's (x, y) to WGS84 (lon, lat); None
    for WGS84 itself. BinImportError for a name PROJ does not know."""
    if any(name.upper().endswith(w.upper()) for w in WGS84_NAMES):
        return None
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError
    try:
        source = CRS.from_user_input(name)
    except CRSError:
        raise BinImportError(
            f"coordinate system {name!r} is not one PROJ knows: give it as EPSG:NNNN "
            "(e.g. EPSG:3006 for SWEREF 99 TM), or export the file as WGS84 "
            "(EPSG:4326)") from None
    transformer = Transformer.from_crs(source, "EPSG:4326", always_xy=True)

    def convert(x: float, y: float) -> tuple[float, float]:
        lon, lat = transformer.transform(x, y, errcheck=False)
        return float(lon), float(lat)
    return convert


def likely_grid(xy: list[tuple[float, float]]) -> tuple[str, str] | None:
    """(name, EPSG code) of the projected system these coordinates most
    likely are in, or None when they look like none that is recognised."""
    if not xy:
        return None
    x, y = statistics.median(p[0] for p in xy), statistics.median(p[1] for p in xy)
    for name, code, (x0, x1), (y0, y1) in GRIDS:
        if x0 <= x <= x1 and y0 <= y <= y1:
            return name, code
    return None


def import_bins(data: bytes | str, prefix: str, catalogue: Catalogue, bbox: BBox | None = None,
                props: Properties = Properties(), crs: str | None = None) -> ImportResult:
    """The bins of a GeoJSON document. crs: the system the positions are in,
    when the file does not say (a name PROJ knows, e.g. EPSG:3006)."""
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
    declared = crs or _crs_name(doc.get("crs"))
    try:
        convert = converter(declared) if declared is not None else None
    except BinImportError as e:
        if crs is not None:
            raise  # the importer's setting, not the file
        result.problems.append(f"the file's {e}")
        return result
    if convert is not None:
        result.crs = declared

    if convert is None:
        raw = [c for c in (_numbers(f) for f in features) if c is not None]
        outside = [c for c in raw if not (-180 <= c[0] <= 180 and -90 <= c[1] <= 90)]
        if raw and len(outside) > len(raw) // 2 and (len(raw) >= 4 or len(outside) == len(raw)):
            grid = likely_grid(outside)
            looks = (f"they look like {grid[0]} ({grid[1]})" if grid is not None
                     else "they look like metres in a projected system")
            code = grid[1] if grid is not None and "NN" not in grid[1] else "EPSG:NNNN"
            result.problems.append(
                f"{len(outside)} of {len(raw)} positions are not longitude/latitude in "
                f"degrees: {looks}: give --crs {code} (or a \"crs\" member in the file), or "
                "export the file as WGS84 (EPSG:4326)")
            return result

    points: list[tuple[int, str, float, float]] = []  # index, label, lon, lat
    for i, feature in enumerate(features, start=1):
        found = _point(i, feature, result.problems, convert, declared)
        if found is not None:
            points.append(found)
    if not points:
        if not any(p.startswith("feature") for p in result.problems):
            result.problems.append(f"no Point features among the {len(features)} features: "
                                   "give each bin as a Point [longitude, latitude]")
        return result

    centre = _middle(points) if len(points) >= 3 else None
    uncoded: Counter[str] = Counter()
    ids: dict[str, str] = {}  # node id -> the feature that has it
    for i, label, lon, lat in points:
        where = _place_problem(label, lon, lat, bbox, centre)
        if where is not None:
            result.problems.append(where)
            continue
        fprops = feature_properties(features[i - 1])
        node_id = f"{prefix}{i:0{width}d}"
        if props.id is not None:
            own = _text(fprops.get(props.id))
            if not own:
                result.problems.append(f"{label}: has no {props.id}; skipped: give every bin "
                                       f"its {props.id}, or import without --id-property")
                continue
            node_id = prefix + "".join(c if c in ID_CHARS else "-" for c in own)
            if node_id in ids:
                result.problems.append(f"{label}: {props.id} {own!r} again ({ids[node_id]} "
                                       "has it); skipped: give every bin its own id")
                continue
            ids[node_id] = label
        raw_type = fprops.get(props.type)
        bin_type, match = catalogue.resolve(raw_type)
        kind = bin_type.name
        if match is Match.UNCODED:
            uncoded["no " + props.type if raw_type is None
                    else f"{props.type} {raw_type!r}"] += 1
        elif match is Match.UNKNOWN:
            # Kept under the file's own name: a catalogue that learns the type
            # later (import again with --types) plans the bin right.
            kind = _text(raw_type)[:KIND_MAX].strip() or bin_type.name
            result.unknown_types[kind] += 1
        try:
            node = Node.from_dict({
                "node_id": node_id, "role": "bin", "lat": lat, "lon": lon, "kind": kind,
                "address": address_of(fprops, props.address)})
        except RegistrationError as e:
            result.problems.append(f"{label}: {e}; skipped")
            continue
        known = match is not Match.UNKNOWN
        result.nodes.append(replace(node, kind_spec=catalogue.spec(kind) if known else None))
    for what, n in sorted(uncoded.items()):
        result.notices.append(f"{n} bin(s) with {what} (type not recorded) imported as "
                              f"'{catalogue.generic.name}'")
    for kind, n in sorted(result.unknown_types.items()):
        result.notices.append(
            f"type {kind!r} ({n} bin(s)) is not in the bin catalogue: planned as "
            f"'{catalogue.generic.name}' ({catalogue.generic.volume_l} L) until it is: add "
            f"[types.\"{kind}\"] with its volume_l to a catalogue file and import again "
            "with --types")
    # The place checks come after all features are read; list in file order.
    result.problems.sort(key=_feature_number)
    return result


def _text(value: object) -> str:
    """A property's value as one line of text ("" for none, or a list, a table)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # Control characters (a tab, a stray NUL) become spaces: one line of text.
    return " ".join("".join(c if ord(c) >= 32 else " " for c in str(value)).split())


def address_of(fprops: dict[str, object], name: str | None) -> str:
    """A bin's address from its properties: the named one, or the first of
    ADDRESS_PROPERTIES, or OpenStreetMap's street and house number."""
    if name is not None:
        found = _text(fprops.get(name))
    else:
        found = next((t for t in (_text(fprops.get(n)) for n in ADDRESS_PROPERTIES) if t), "")
        if not found:
            found = " ".join(t for t in (_text(fprops.get("addr:street")),
                                         _text(fprops.get("addr:housenumber"))) if t)
    return found[:ADDRESS_MAX].strip()


def _numbers(feature: object) -> tuple[float, float] | None:
    """A Point feature's first two coordinates when they are numbers."""
    if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
        return None
    coords = feature["geometry"].get("coordinates")
    if feature["geometry"].get("type") != "Point" or not isinstance(coords, list) \
            or len(coords) < 2:
        return None
    x, y = coords[0], coords[1]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
        return None
    try:
        fx, fy = float(x), float(y)
    except OverflowError:
        return None
    return (fx, fy) if math.isfinite(fx) and math.isfinite(fy) else None


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


def _point(i: int, feature: object, problems: list[str], convert: Convert | None = None,
           system: str | None = None) -> tuple[int, str, float, float] | None:
    """(index, label, lon, lat) of a Point feature, or None with a problem.
    convert: from the file's system to WGS84."""
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
    if convert is not None:
        xy = _numbers(feature)
        converted = convert(*xy) if xy is not None else (math.inf, math.inf)
        if not all(math.isfinite(v) for v in converted):
            problems.append(f"{label}: coordinates {_short(coords)} are not a position in "
                            f"{system}; skipped: correct the position")
            return None
        lon, lat = converted
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
    """Great-circle distance in kilometres, between (lon, lat) points as the
    file gives them."""
    return great_circle_m(lat1, lon1, lat2, lon2) / 1000


def _crs_name(crs: object) -> str | None:
    # GeoJSON (RFC 7946) dropped "crs", but GIS tools still write the old form.
    if isinstance(crs, dict) and isinstance(crs.get("properties"), dict):
        name = crs["properties"].get("name")
        return name if isinstance(name, str) else None
    return None


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
