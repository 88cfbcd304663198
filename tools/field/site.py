"""The site profile a technician carries: one small TOML file per district with
the gateway's address, the city's area, the street Wi-Fi or LoRa settings and
the defaults for new nodes (docs/examples/site.toml), and the technician's
own credential for the gateway ([technician], made by the gateway's admin with
`kvarter gateway technician add`). Found from --site, $KVARTER_SITE or
./kvarter-site.toml; command-line options override it. A profile with a
credential must be readable by its owner only."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.settings import ConfigError, parse
from gateway.security.technician import CredentialError, TechnicianCredential, credential_from
from tools.field.errors import FieldError

ENV = "KVARTER_SITE"
DEFAULT_NAME = "kvarter-site.toml"
TABLES = {
    "": {"name", "gateway", "area", "wifi", "lora", "node", "bin", "light", "flash",
         "technician"},
    "gateway": {"address", "node_address"},
    "area": {"south", "north", "west", "east", "polygon"},
    "wifi": {"ssid", "password"},
    "node": {"transport", "bin_type", "zone"},
    "flash": {"baud"},
}


class SiteError(FieldError):
    """A site profile that cannot be used; the message names the file and the setting."""


@dataclass(frozen=True)
class Area:
    """Where the district's nodes may stand: a box, or a polygon of
    (lat, lon) corners."""
    corners: tuple[tuple[float, float], ...]
    box: bool = False

    @classmethod
    def bounding(cls, south: float, north: float, west: float, east: float) -> Area:
        return cls(((south, west), (south, east), (north, east), (north, west)), box=True)

    def contains(self, lat: float, lon: float) -> bool:
        if self.box:
            lats = [c[0] for c in self.corners]
            lons = [c[1] for c in self.corners]
            return min(lats) <= lat <= max(lats) and min(lons) <= lon <= max(lons)
        # Even-odd rule: a ray from the point eastward crosses the edge
        # an odd number of times when the point is inside.
        inside = False
        n = len(self.corners)
        for i in range(n):
            (lat1, lon1), (lat2, lon2) = self.corners[i], self.corners[(i + 1) % n]
            if (lat1 > lat) != (lat2 > lat):
                crossing = lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1)
                if lon < crossing:
                    inside = not inside
        return inside

    def describe(self) -> str:
        if self.box:
            lats = [c[0] for c in self.corners]
            lons = [c[1] for c in self.corners]
            return (f"lat {min(lats):g}..{max(lats):g}, lon {min(lons):g}..{max(lons):g}")
        return f"a polygon of {len(self.corners)} corners"


@dataclass(frozen=True)
class Site:
    path: Path | None = None
    name: str = ""
    gateway: str | None = None  # HOST:PORT where this laptop reaches the gateway
    node_gateway: str | None = None  # HOST:PORT where the nodes reach it, if elsewhere
    area: Area | None = None
    wifi_ssid: str | None = None
    wifi_password: str | None = field(default=None, repr=False)
    lora: Mapping[str, Any] = field(default_factory=dict)
    transport: str | None = None
    bin_type: str | None = None
    zone: str | None = None
    role_keys: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    baud: int | None = None
    technician: TechnicianCredential | None = None

    def where(self) -> str:
        return f"site profile {self.path}" if self.path else "no site profile"


def need_technician(site: Site) -> TechnicianCredential:
    """The site profile's technician credential, or the one line that says
    what to ask for."""
    if site.technician is None:
        where = (f"the site profile {site.path} has" if site.path else
                 "there is no site profile (--site, $KVARTER_SITE or ./kvarter-site.toml) with")
        raise FieldError(f"{where} no [technician] credential, which the gateway needs for "
                         "registering and listing nodes: ask the gateway's admin for one "
                         "('kvarter gateway technician add YOUR-NAME') and paste its lines "
                         "into the profile", short="no credential")
    return site.technician


def check_position(area: Area | None, lat: float, lon: float, where: str) -> None:
    """Raises FieldError when the position is outside the site's area."""
    if area is None or area.contains(lat, lon):
        return
    if area.contains(lon, lat):
        raise FieldError(f"position {lat}, {lon} is outside the area of the {where} but "
                         f"looks swapped: give --lat {lon} --lon {lat}", short="outside area")
    raise FieldError(f"position {lat}, {lon} is outside the area of the {where} "
                     f"({area.describe()}): check --lat and --lon (decimal degrees, "
                     "from the map or the work order)", short="outside area")


def _hostport(value: object, where: str) -> str:
    host, sep, port = str(value).rpartition(":") if isinstance(value, str) else ("", "", "")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SiteError(f"{where} must be HOST:PORT like 10.20.0.1:5683, got {value!r}")
    return str(value)


def _degrees(value: object, where: str, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not -limit <= value <= limit:
        raise SiteError(f"{where} must be degrees -{limit:g}..{limit:g}, got {value!r}")
    return float(value)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SiteError(f"{where} must be a non-empty text, got {value!r}")
    return value


def _table(raw: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise SiteError(f"{where}: [{name}] must be a table")
    known = TABLES.get(name)
    if known is not None:
        unknown = sorted(set(value) - known)
        if unknown:
            raise SiteError(f"{where}: [{name}] has no setting {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(known))}")
    return value


def _area(raw: Mapping[str, Any], where: str) -> Area | None:
    if not raw:
        return None
    if "polygon" in raw:
        if set(raw) != {"polygon"}:
            raise SiteError(f"{where}: [area] is a box (south, north, west, east) or a polygon, "
                            "not both")
        poly = raw["polygon"]
        if not isinstance(poly, list) or len(poly) < 3:
            raise SiteError(f"{where}: area.polygon must be 3 or more [lat, lon] corners")
        corners = []
        for i, c in enumerate(poly):
            if not isinstance(c, list) or len(c) != 2:
                raise SiteError(f"{where}: area.polygon[{i}] must be [lat, lon], got {c!r}")
            corners.append((_degrees(c[0], f"{where}: area.polygon[{i}] lat", 90),
                            _degrees(c[1], f"{where}: area.polygon[{i}] lon", 180)))
        return Area(tuple(corners))
    missing = [k for k in ("south", "north", "west", "east") if k not in raw]
    if missing:
        raise SiteError(f"{where}: [area] needs south, north, west and east (degrees), or a "
                        f"polygon; {', '.join(missing)} missing")
    s, n = (_degrees(raw[k], f"{where}: area.{k}", 90) for k in ("south", "north"))
    w, e = (_degrees(raw[k], f"{where}: area.{k}", 180) for k in ("west", "east"))
    if not s < n or not w < e:
        raise SiteError(f"{where}: [area] needs south < north and west < east, got "
                        f"{s:g}..{n:g}, {w:g}..{e:g}")
    return Area.bounding(s, n, w, e)


def _check_node_keys(table: str, role: str, keys: Mapping[str, Any],
                     lora: Mapping[str, Any], where: str) -> None:
    """The site's keys for a role, with its LoRa settings, must pass the
    firmware's own checks: a wrong value is named now, not at the bin."""
    sample: dict[str, Any] = {"id": "SITE", "role": role, "gateway_host": "gateway", **keys}
    if lora:
        sample.update(transport="lora", lora=dict(lora))
    try:
        parse(json.dumps(sample))
    except ConfigError as e:
        raise SiteError(f"{where}: [{table}] {e}") from None


def parse_site(text: str, path: Path | None = None) -> Site:
    where = f"site profile {path}" if path else "site profile"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SiteError(f"{where} is not valid TOML: {e}") from None
    unknown = sorted(set(raw) - TABLES[""])
    if unknown:
        raise SiteError(f"{where} has no setting {', '.join(unknown)}; known: "
                        f"{', '.join(sorted(TABLES['']))}")
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise SiteError(f"{where}: name must be a text")
    gw = _table(raw, "gateway", where)
    gateway = _hostport(gw["address"], f"{where}: gateway.address") if "address" in gw else None
    node_gateway = (_hostport(gw["node_address"], f"{where}: gateway.node_address")
                    if "node_address" in gw else None)
    wifi = _table(raw, "wifi", where)
    ssid = _text(wifi["ssid"], f"{where}: wifi.ssid") if "ssid" in wifi else None
    password = wifi.get("password")
    if password is not None and not isinstance(password, str):
        raise SiteError(f"{where}: wifi.password must be a text")
    lora = _table(raw, "lora", where)
    node = _table(raw, "node", where)
    transport = node.get("transport")
    if transport not in (None, "wifi", "lora"):
        raise SiteError(f"{where}: node.transport must be \"wifi\" or \"lora\", got {transport!r}")
    bin_type = _text(node["bin_type"], f"{where}: node.bin_type") if "bin_type" in node else None
    zone = _text(node["zone"], f"{where}: node.zone") if "zone" in node else None
    for label, value in (("node.bin_type", bin_type), ("node.zone", zone)):
        if value is not None and len(value) > 40:
            raise SiteError(f"{where}: {label} must be at most 40 characters")
    role_keys = {role: dict(_table(raw, role, where)) for role in ("bin", "light")}
    for role, keys in role_keys.items():
        if "id" in keys or "role" in keys or "key" in keys:
            raise SiteError(f"{where}: [{role}] cannot set id, role or key: each node has its own")
        _check_node_keys(role, role, keys, {}, where)
    if lora:
        _check_node_keys("lora", "bin", {}, lora, where)
    baud = _table(raw, "flash", where).get("baud")
    if baud is not None and (isinstance(baud, bool) or not isinstance(baud, int)
                             or not 9600 <= baud <= 4_000_000):
        raise SiteError(f"{where}: flash.baud must be a serial speed like 460800, got {baud!r}")
    technician = None
    if "technician" in raw:
        try:
            technician = credential_from(raw["technician"], where)
        except CredentialError as e:
            raise SiteError(str(e)) from None
    return Site(path, name, gateway, node_gateway, _area(_table(raw, "area", where), where),
                ssid, password, dict(lora), transport, bin_type, zone, role_keys, baud,
                technician)


def load_site(path: Path) -> Site:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SiteError(f"no site profile at {path}: check the name, or copy "
                        "docs/examples/site.toml and fill it in") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SiteError(f"cannot read site profile {path}: {e}") from None
    site = parse_site(text, path)
    if site.technician is not None and path.stat().st_mode & 0o077:
        raise SiteError(f"site profile {path} holds a technician credential and others may "
                        f"read it: run 'chmod 600 {path}'")
    return site


def find_site(explicit: Path | None, cwd: Path | None = None,
              environ: Mapping[str, str] | None = None) -> Site:
    """The profile from --site, else $KVARTER_SITE, else ./kvarter-site.toml;
    an empty Site when there is none (every setting then comes from options)."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        return load_site(explicit)
    if env.get(ENV):
        return load_site(Path(env[ENV]))
    local = (cwd or Path.cwd()) / DEFAULT_NAME
    if local.is_file():
        return load_site(local)
    return Site()
