"""The nodes a gateway knows: their id, role and position, a light pole's
short address (the number commands name it by, docs/protocol.md), and the
node's secret key, learnt when a technician provisions it."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from firmware import codec
from firmware.lighting import payload as light_codec
from firmware.settings import ConfigError, check_key, check_node_id

ROLES = ("bin", "light")
ADDR_MIN = 1
ADDR_MAX = 65534  # 0 and 0xFFFF are kept back (none, everyone)


class RegistrationError(ValueError):
    """A node registration that cannot be accepted; the message says why."""


# A kid the technician's laptop chose for a node it provisioned while the
# gateway was out of reach (tools/field/provision.py): 4 bytes, so never one
# the gateway gives (1 or 2 bytes), and random, so two laptops do not choose
# the same. It travels in that node's registration, which the gateway then
# takes with it.
CHOSEN_KID_LEN = 4


def chosen_kid(data: bytes) -> bytes | None:
    """The kid a registration's JSON asks for ("kid": 8 hex digits), or None;
    RegistrationError for one that is not such."""
    try:
        raw = json.loads(data)
    except ValueError:
        return None  # Node.from_json says what is wrong with it
    kid = raw.get("kid") if isinstance(raw, dict) else None
    if kid is None:
        return None
    if not isinstance(kid, str) or len(kid) != 2 * CHOSEN_KID_LEN \
            or any(c not in "0123456789abcdefABCDEF" for c in kid):
        raise RegistrationError(f"kid must be {2 * CHOSEN_KID_LEN} hex digits (a kid chosen at "
                                f"provisioning; the gateway gives shorter ones itself), "
                                f"got {kid!r}")
    if raw.get("key") is None:
        raise RegistrationError("a kid comes only with the node's key")
    return bytes.fromhex(kid)


ADDRESS_MAX = 120


@dataclass(frozen=True)
class KindSpec:
    """A bin kind's litres, whether it compacts, and the seconds a crew takes
    to empty it (the bin-type catalogue's fields)."""
    volume_l: int
    compacting: bool = False
    service_s: int = 60

    @classmethod
    def from_dict(cls, raw: object) -> KindSpec:
        if not isinstance(raw, dict) or set(raw) - {"volume_l", "compacting", "service_s"}:
            raise RegistrationError("kind_spec must be {\"volume_l\": L, \"compacting\": "
                                    "true|false, \"service_s\": S}")
        volume, compacting, service = (raw.get("volume_l"), raw.get("compacting", False),
                                       raw.get("service_s", 60))
        for name, value, hi in (("volume_l", volume, 100_000), ("service_s", service, 3600)):
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not (1 if name == "volume_l" else 0) <= value <= hi:
                raise RegistrationError(f"kind_spec {name} must be a whole number up to {hi}, "
                                        f"got {value!r}")
        if not isinstance(compacting, bool):
            raise RegistrationError("kind_spec compacting must be true or false")
        return cls(volume, compacting, service)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Node:
    node_id: str
    role: str
    lat: float
    lon: float
    kind: str = ""  # bin type or light zone
    # A light pole's short address, 1..65534, unique within its gateway. A
    # registration without one is given the lowest free one by the gateway.
    addr: int | None = None
    # The node's secret (32 hex digits, the "key" of its config.json). It goes
    # to the gateway in a registration and never comes back out: not in
    # GET /nodes, not in a repr that ends up in a log.
    key: str | None = field(default=None, repr=False)
    # Where a crew finds a bin ("Drottninggatan 53"), from the city's file.
    address: str = ""
    # What a bin of this kind holds and takes to empty, as the technician's
    # catalogue had it at import: the gateway keeps it per kind, so that
    # planning knows the kind without being told again. Not kept per node.
    kind_spec: KindSpec | None = field(default=None, compare=False)

    def to_json(self, with_key: bool = False) -> bytes:
        body = asdict(self)
        # Absent fields stay absent: old readers see no change.
        if self.addr is None:
            del body["addr"]
        if not with_key or self.key is None:
            del body["key"]
        if not self.address:
            del body["address"]
        if self.kind_spec is None:
            del body["kind_spec"]
        return json.dumps(body).encode()

    @classmethod
    def from_dict(cls, raw: Any) -> Node:
        if not isinstance(raw, dict):
            raise RegistrationError("registration must be a JSON object")
        try:
            node_id = check_node_id(raw.get("node_id"))
        except ConfigError as e:
            raise RegistrationError(str(e)) from None
        role = raw.get("role")
        if role not in ROLES:
            raise RegistrationError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        lat, lon = raw.get("lat"), raw.get("lon")
        for name, value, limit in (("lat", lat, 90), ("lon", lon, 180)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not -limit <= value <= limit:
                raise RegistrationError(
                    f"{name} must be a number in -{limit}..{limit} degrees, got {value!r}")
        kind = raw.get("kind", "")
        if not isinstance(kind, str) or len(kind) > 40:
            raise RegistrationError("kind must be a short text (bin type or light zone)")
        addr = raw.get("addr")
        if addr is not None:
            if isinstance(addr, bool) or not isinstance(addr, int) \
                    or not ADDR_MIN <= addr <= ADDR_MAX:
                raise RegistrationError(
                    f"addr must be a whole number {ADDR_MIN}..{ADDR_MAX}, got {addr!r}")
            if role != "light":
                raise RegistrationError("addr is a light pole's short address; a bin has none")
        key = raw.get("key")
        if key is not None:
            try:
                check_key(key)
            except ConfigError as e:
                raise RegistrationError(str(e)) from None
            key = key.lower()
        address = raw.get("address", "")
        if not isinstance(address, str) or len(address) > ADDRESS_MAX \
                or any(ord(c) < 32 for c in address):
            raise RegistrationError(f"address must be a text of at most {ADDRESS_MAX} "
                                    "characters on one line")
        spec = raw.get("kind_spec")
        if spec is not None:
            if role != "bin" or not kind:
                raise RegistrationError("kind_spec describes a bin's kind: only a bin with a "
                                        "kind has one")
            spec = KindSpec.from_dict(spec)
        return cls(node_id, role, float(lat), float(lon), kind,  # type: ignore[arg-type]
                   addr, key, address.strip(), spec)

    @classmethod
    def from_json(cls, data: bytes) -> Node:
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise RegistrationError("registration is not valid JSON") from None
        return cls.from_dict(raw)


# --- what nodes report, as accepted ----------------------------------------------

@dataclass(frozen=True)
class BinRecord:
    node_id: str
    report: codec.BinReport
    received_at: float

    @property
    def measured_at(self) -> int:
        # A node whose clock is not set sends 0: the gateway's time stands in.
        return self.report.time or int(self.received_at)


@dataclass(frozen=True)
class PresenceRecord:
    node_id: str
    event: codec.PresenceEvent
    received_at: float

    @property
    def measured_at(self) -> int:
        return self.event.time or int(self.received_at)


@dataclass(frozen=True)
class StatusRecord:
    """A light node's status report (light_codec.Status)."""
    node_id: str
    status: light_codec.Status
    received_at: float

    @property
    def measured_at(self) -> int:
        return int(self.status.time or int(self.received_at))


Record = BinRecord | PresenceRecord | StatusRecord


def replace_proof(old_key: str, node_id: str, new_key: str | None) -> str:
    """What a registration over an existing node shows to prove that whoever
    sends it has that node's key: HMAC-SHA256 under the old key (hex, as in
    config.json) over the node's id and the key that replaces it, so that a
    proof is good for this one replacement only. Hex, 64 digits."""
    message = b"kvarter replace\x00" + node_id.encode() + b"\x00" + (new_key or "").encode()
    return hmac.new(bytes.fromhex(old_key), message, hashlib.sha256).hexdigest()


# --- what a technician's laptop tells of a node ----------------------------------

# A self-test's check names (firmware/selftest.py): lower-case words.
CHECK_NAME_MAX = 16
CHECKS_MAX = 16
FIRMWARE_MAX = 40
# How far ahead of the gateway's clock a laptop's time may be.
SELFTEST_AHEAD_S = 300


@dataclass(frozen=True)
class SelfTest:
    """The result of a node's self-test as the technician's laptop read it
    over USB (PUT /nodes/<id>/selftest, docs/protocol.md): when it ran (the
    laptop's clock), whether every check passed, the names of those that
    failed, the firmware build on the node (None: the laptop could not tell)
    and the Wi-Fi signal the node had where it stands (None: not on Wi-Fi)."""
    at: int
    ok: bool
    failed: tuple[str, ...] = ()
    firmware: str | None = None
    wifi_dbm: int | None = None

    @classmethod
    def from_json(cls, data: bytes, now: float) -> SelfTest:
        """Raises RegistrationError with the one-line reason."""
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise RegistrationError("self-test is not valid JSON") from None
        if not isinstance(raw, dict):
            raise RegistrationError("self-test must be a JSON object")
        unknown = set(raw) - {"at", "ok", "failed", "firmware", "wifi_dbm"}
        if unknown:
            raise RegistrationError(f"self-test has unknown field {sorted(unknown)[0]!r}")
        at, ok = raw.get("at"), raw.get("ok")
        if not isinstance(at, int) or isinstance(at, bool) or at <= 0:
            raise RegistrationError("self-test needs at: unix seconds when it ran")
        if at > now + SELFTEST_AHEAD_S:
            raise RegistrationError("self-test at is ahead of the gateway's clock: set the "
                                    "laptop's clock")
        if not isinstance(ok, bool):
            raise RegistrationError("self-test needs ok: true or false")
        failed = raw.get("failed", [])
        if not isinstance(failed, list) or len(failed) > CHECKS_MAX or not all(
                isinstance(f, str) and 0 < len(f) <= CHECK_NAME_MAX
                and all(c.isascii() and (c.islower() or c == "_") for c in f)
                for f in failed):
            raise RegistrationError(f"self-test failed must be a list of at most {CHECKS_MAX} "
                                    f"check names (a-z and _, 1..{CHECK_NAME_MAX})")
        if ok != (not failed):
            raise RegistrationError("self-test ok must be true exactly when failed is empty")
        firmware = raw.get("firmware")
        if firmware is not None and not (
                isinstance(firmware, str) and 0 < len(firmware) <= FIRMWARE_MAX
                and firmware.isascii() and firmware.isprintable()):
            raise RegistrationError(f"self-test firmware must be printable ASCII, 1.."
                                    f"{FIRMWARE_MAX} characters, or null")
        wifi = raw.get("wifi_dbm")
        if wifi is not None and not (isinstance(wifi, int) and not isinstance(wifi, bool)
                                     and -127 <= wifi <= 0):
            raise RegistrationError("self-test wifi_dbm must be -127..0 dBm, or null")
        return cls(at, ok, tuple(failed), firmware, wifi)

    def to_json(self) -> bytes:
        return json.dumps({"at": self.at, "ok": self.ok, "failed": list(self.failed),
                           "firmware": self.firmware, "wifi_dbm": self.wifi_dbm},
                          separators=(",", ":")).encode()
