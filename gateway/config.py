"""Gateway settings: embedded defaults, optionally overridden by a TOML file."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

CENTURY_S = 100 * 365 * 86400

# The finest interval presence is counted over outside the gateway: a quarter
# hour holds many passers-by on a street in use, and too few at night are
# suppressed (presence_min_count).
PRESENCE_INTERVAL_MIN_S = 900

# aiocoap's server transports the gateway may serve CoAP over.
COAP_TRANSPORTS = ("udp6", "simple6", "simplesocketserver", "tcpserver", "tlsserver", "ws")


# The NGSI-LD entity types the gateway serves, and those open by default.
NGSI_TYPES = ("WasteContainer", "Streetlight", "StreetlightGroup", "Device")
NGSI_OPEN_TYPES = ("WasteContainer", "Streetlight", "StreetlightGroup")
# The forms an NGSI-LD entity is published on MQTT in.
NGSI_FORMATS = ("normalized", "keyValues")


# The daily open-data files' datasets (gateway/opendata/export/files.py).
OPEN_DATASETS = ("bins", "emptyings", "lighting-energy", "presence")
_SPDX = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}")


class GatewayConfigError(ValueError):
    """A gateway setting that cannot be used; the message names it."""


class GatewayStartError(RuntimeError):
    """A part of the gateway that could not start; the message says what to do."""


def district_title(name: str, short_name: str = "", streets_name: str = "") -> str:
    """The district's name for what people read (route sheets, screens):
    the name set for people to read, else the gateway's short name unless it
    is the default placeholder, else the name the streets file gives itself;
    "" if none."""
    for candidate in (name, "" if short_name == "district" else short_name, streets_name):
        if candidate.strip():
            return candidate.strip()
    return ""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class GatewayConfig:
    district: str = "district"
    # The district's name as people say it, for what people read (the route
    # sheets' title); `district` is the short name in MQTT topics.
    district_name: str = ""
    bind_host: str = "127.0.0.1"
    port: int = 5683
    db_path: Path = Path("var/gateway.sqlite")
    mqtt_host: str | None = None
    mqtt_port: int = 1883
    mqtt_prefix: str = "kvarter"
    # Where node registrations are accepted from: the technician's laptop
    # reaches the gateway through these networks (VPN, depot LAN).
    admin_networks: list[str] = field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    # Street lighting: how often presence counts and energy per zone go to
    # MQTT, and the time from a detection to a command applied at a pole.
    light_interval_s: float = 300.0
    light_latency_s: float = 1.0
    # Privacy (docs/privacy.md): presence leaves the gateway only as counts
    # per zone and interval of presence_interval_s (a whole number of
    # quarter hours, aligned to them), a count of fewer than
    # presence_min_count people suppressed; raw presence events are
    # deleted once older than presence_keep_days.
    presence_interval_s: int = 900
    presence_min_count: int = 5
    presence_keep_days: float = 7.0
    # The LoRa radio bridge's serial port (None: no LoRa), e.g. /dev/ttyUSB0.
    radio: str | None = None
    radio_baud: int = 115200
    # Hardening (docs/operators.md, "Hardening").
    # A report's measured time is accepted within these bounds of the
    # gateway's clock (gateway/ingest/decode.py says why 10 days).
    max_clock_ahead_s: float = 300.0
    max_report_age_s: float = 10 * 86400.0
    # The most nodes the registry takes; registrations beyond are refused.
    max_nodes: int = 10000
    # The gateway's log: a file rotated at log_max_bytes, keeping log_backups
    # old ones (None: standard error).
    log_file: Path | None = None
    log_max_bytes: int = 10_000_000
    log_backups: int = 5
    # CoAP transports served (aiocoap's names): UDP only unless asked.
    coap_transports: list[str] = field(default_factory=lambda: ["udp6"])
    # MQTT over TLS (a CA file turns it on), with an optional client
    # certificate, and a username and password.
    mqtt_tls_ca: Path | None = None
    mqtt_tls_cert: Path | None = None
    mqtt_tls_key: Path | None = None
    mqtt_username: str | None = None
    mqtt_password: str | None = field(default=None, repr=False)
    # Messages kept for the broker while it is away; beyond, new ones are
    # dropped, counted and logged.
    mqtt_queue_max: int = 10000
    # OSCORE on the nodes' requests: "required" answers an unprotected
    # report 4.01 and stores nothing of it. "optional" also takes unprotected
    # reports from nodes that have no key yet (while a district's nodes are
    # moved over); a node with a key is never taken unprotected.
    oscore: str = "required"
    # People's HTTP API (docs/operators.md, "The HTTP API"): on by default,
    # on loopback. Any other address needs HTTPS (a certificate and its
    # key); behind a reverse proxy that terminates HTTPS, keep loopback and
    # set http_behind_proxy, so that the client's address and scheme are
    # taken from the proxy's X-Forwarded-For and X-Forwarded-Proto.
    http: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    http_tls_cert: Path | None = None
    http_tls_key: Path | None = None
    http_behind_proxy: bool = False
    # The NGSI-LD entity types anyone may read at /ngsi-ld/v1 without an
    # account (docs/open-data.md): what the city declares open data. The
    # others need an account whose role may read them.
    ngsi_open_types: list[str] = field(default_factory=lambda: list(NGSI_OPEN_TYPES))
    # The daily open-data files (docs/open-data.md, "The daily files"): their
    # licence, as an SPDX id, and the datasets anyone may fetch at
    # /api/v1/open-data without an account. Left out, a dataset is open as
    # the NGSI-LD entities of the same data are: the bins and their
    # emptyings with WasteContainer, the zones' energy and presence counts
    # with StreetlightGroup.
    open_data_licence: str = "CC-BY-4.0"
    open_data_files: list[str] | None = None
    # The same entities on MQTT (docs/open-data.md, "On MQTT"): each one's
    # latest state retained under <prefix>/<district>/ngsi-ld/, sent when it
    # changes. Off unless the city asks for it: it puts a retained copy of the
    # district on the broker, whose ACLs must be set for it first.
    mqtt_ngsi_ld: bool = False
    mqtt_ngsi_ld_format: str = "normalized"
    # The types published; none given: the open ones (ngsi_open_types).
    mqtt_ngsi_ld_types: list[str] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise GatewayConfigError(f"port must be 0..65535, got {self.port}")
        if not 1 <= self.mqtt_port <= 65535:
            raise GatewayConfigError(f"mqtt_port must be 1..65535, got {self.mqtt_port}")
        if not self.district or "/" in self.district or "+" in self.district \
                or "#" in self.district:
            raise GatewayConfigError(
                f"district must be a non-empty name without '/', '+' or '#', got {self.district!r}")
        if not isinstance(self.district_name, str) or len(self.district_name) > 120 \
                or any(not c.isprintable() for c in self.district_name):
            raise GatewayConfigError(
                "district_name must be one line of text of at most 120 characters, "
                f"got {self.district_name!r}")
        for net in self.admin_networks:
            try:
                ipaddress.ip_network(net)
            except ValueError:
                raise GatewayConfigError(
                    f"admin_networks: {net!r} is not a network like 10.0.0.0/8") from None
        for name in ("light_interval_s", "light_latency_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not 0 < value <= 86400:
                raise GatewayConfigError(f"{name} must be seconds above 0, got {value!r}")
        self._check_presence()
        self._check_open_data()
        if self.radio is not None and (not isinstance(self.radio, str) or not self.radio):
            raise GatewayConfigError(
                f"radio must be the bridge's serial port like /dev/ttyUSB0, got {self.radio!r}")
        if isinstance(self.radio_baud, bool) or not isinstance(self.radio_baud, int) \
                or not 1200 <= self.radio_baud <= 4000000:
            raise GatewayConfigError(
                f"radio_baud must be a serial speed like 115200, got {self.radio_baud!r}")
        for name, low, high in (("max_clock_ahead_s", 0, CENTURY_S),
                                ("max_report_age_s", 3600, CENTURY_S)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not low <= value <= high:
                raise GatewayConfigError(
                    f"{name} must be seconds in {low}..{high}, got {value!r}")
        for name, low, high in (("max_nodes", 1, 10_000_000),
                                ("log_max_bytes", 10_000, 10**12), ("log_backups", 0, 1000),
                                ("mqtt_queue_max", 1, 10_000_000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not low <= value <= high:
                raise GatewayConfigError(
                    f"{name} must be a whole number in {low}..{high}, got {value!r}")
        if not isinstance(self.coap_transports, list) or not self.coap_transports \
                or any(t not in COAP_TRANSPORTS for t in self.coap_transports):
            raise GatewayConfigError(
                f"coap_transports must be a list of {', '.join(COAP_TRANSPORTS)}, "
                f"got {self.coap_transports!r}")
        for name in ("mqtt_username", "mqtt_password"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise GatewayConfigError(f"{name} must be text")
        if (self.mqtt_tls_cert is None) != (self.mqtt_tls_key is None):
            raise GatewayConfigError("mqtt_tls_cert and mqtt_tls_key go together")
        if self.mqtt_tls_cert is not None and self.mqtt_tls_ca is None:
            raise GatewayConfigError("mqtt_tls_cert needs mqtt_tls_ca (TLS)")
        for name in ("log_file", "mqtt_tls_ca", "mqtt_tls_cert", "mqtt_tls_key"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value))
        if self.oscore not in ("optional", "required"):
            raise GatewayConfigError(
                f"oscore must be \"optional\" or \"required\", got {self.oscore!r}")
        self.db_path = Path(self.db_path)
        self._check_http()
        if not isinstance(self.ngsi_open_types, list) or any(
                t not in NGSI_TYPES for t in self.ngsi_open_types):
            raise GatewayConfigError(
                f"ngsi_open_types must be a list of {', '.join(NGSI_TYPES)} (an empty list: "
                f"nothing open), got {self.ngsi_open_types!r}")
        self._check_ngsi_mqtt()

    def _check_ngsi_mqtt(self) -> None:
        if not isinstance(self.mqtt_ngsi_ld, bool):
            raise GatewayConfigError(
                f"mqtt_ngsi_ld must be true or false, got {self.mqtt_ngsi_ld!r}")
        if self.mqtt_ngsi_ld_format not in NGSI_FORMATS:
            raise GatewayConfigError(
                f"mqtt_ngsi_ld_format must be \"normalized\" or \"keyValues\", "
                f"got {self.mqtt_ngsi_ld_format!r}")
        types = self.mqtt_ngsi_ld_types
        if types is not None and (not isinstance(types, list) or any(
                t not in NGSI_TYPES for t in types)):
            raise GatewayConfigError(
                f"mqtt_ngsi_ld_types must be a list of {', '.join(NGSI_TYPES)} (leave it out "
                f"for the open types, ngsi_open_types), got {types!r}")

    def check_to_serve(self) -> None:
        """What only the running gateway needs: the other commands read the
        same file (and may be given no broker, e.g. `kvarter export`)."""
        if self.mqtt_ngsi_ld and not self.mqtt_host:
            raise GatewayConfigError(
                "mqtt_ngsi_ld publishes on the MQTT broker: set mqtt_host (--mqtt) as well, "
                "or mqtt_ngsi_ld = false")

    @property
    def mqtt_ngsi_ld_published(self) -> list[str]:
        """The NGSI-LD types published on MQTT."""
        return list(self.ngsi_open_types if self.mqtt_ngsi_ld_types is None
                    else self.mqtt_ngsi_ld_types)

    def open_datasets(self) -> frozenset[str]:
        """The daily files' datasets anyone may fetch without an account."""
        if self.open_data_files is not None:
            return frozenset(self.open_data_files)
        follows = {"bins": "WasteContainer", "emptyings": "WasteContainer",
                   "lighting-energy": "StreetlightGroup", "presence": "StreetlightGroup"}
        return frozenset(d for d, t in follows.items() if t in self.ngsi_open_types)

    def _check_open_data(self) -> None:
        if not isinstance(self.open_data_licence, str) or not _SPDX.fullmatch(
                self.open_data_licence):
            raise GatewayConfigError(
                f"open_data_licence must be a licence's SPDX id such as CC-BY-4.0 or CC0-1.0, "
                f"got {self.open_data_licence!r}")
        if self.open_data_files is not None and (
                not isinstance(self.open_data_files, list)
                or any(d not in OPEN_DATASETS for d in self.open_data_files)):
            raise GatewayConfigError(
                f"open_data_files must be a list of {', '.join(OPEN_DATASETS)} (an empty "
                f"list: none open), got {self.open_data_files!r}")

    def _check_presence(self) -> None:
        v = self.presence_interval_s
        if isinstance(v, bool) or not isinstance(v, int) or not PRESENCE_INTERVAL_MIN_S <= v \
                <= 86400 or v % PRESENCE_INTERVAL_MIN_S:
            raise GatewayConfigError(
                f"presence_interval_s must be a whole number of quarter hours (900, 1800, ... "
                f"86400): finer counts would let a passer-by be followed; got {v!r}")
        v = self.presence_min_count
        if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= 1000:
            raise GatewayConfigError(
                f"presence_min_count must be a whole number in 2..1000 (a count of one person "
                f"is that person), got {v!r}")
        keep = self.presence_keep_days
        if isinstance(keep, bool) or not isinstance(keep, int | float) \
                or not 1 <= keep <= CENTURY_S / 86400:
            raise GatewayConfigError(
                f"presence_keep_days must be days from 1 (docs/privacy.md), got {keep!r}")

    def _check_http(self) -> None:
        for name in ("http", "http_behind_proxy"):
            if not isinstance(getattr(self, name), bool):
                raise GatewayConfigError(f"{name} must be true or false")
        if isinstance(self.http_port, bool) or not isinstance(self.http_port, int) \
                or not 0 <= self.http_port <= 65535:
            raise GatewayConfigError(f"http_port must be 0..65535, got {self.http_port!r}")
        if not isinstance(self.http_host, str) or not self.http_host:
            raise GatewayConfigError("http_host must be an address like 127.0.0.1")
        if (self.http_tls_cert is None) != (self.http_tls_key is None):
            raise GatewayConfigError("http_tls_cert and http_tls_key go together")
        for name in ("http_tls_cert", "http_tls_key"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value))
        if self.http and self.http_tls_cert is None and not is_loopback(self.http_host):
            raise GatewayConfigError(
                f"http_host {self.http_host} is not loopback: plain HTTP would carry passwords "
                "in the clear; set http_tls_cert and http_tls_key, or keep 127.0.0.1 behind a "
                "reverse proxy (docs/operators.md)")
        if self.http_behind_proxy and not is_loopback(self.http_host):
            raise GatewayConfigError(
                "http_behind_proxy trusts the proxy's forwarded headers, so the gateway must "
                "listen on loopback (http_host = \"127.0.0.1\") with the proxy beside it")

    def admin_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in ipaddress.ip_network(n) for n in self.admin_networks)

    @classmethod
    def load(cls, path: Path | None, **overrides: Any) -> GatewayConfig:
        values: dict[str, Any] = {}
        if path is not None:
            try:
                with open(path, "rb") as f:
                    values = tomllib.load(f).get("gateway", {})
            except FileNotFoundError:
                raise GatewayConfigError(f"config file {path} does not exist") from None
            except tomllib.TOMLDecodeError as e:
                raise GatewayConfigError(f"config file {path} is not valid TOML: {e}") from None
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise GatewayConfigError(
                f"unknown setting(s) in [gateway]: {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except TypeError as e:
            raise GatewayConfigError(str(e)) from None
