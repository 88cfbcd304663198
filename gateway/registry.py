"""The nodes a gateway knows: their id, role and position."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from firmware.config import ConfigError, check_node_id

ROLES = ("bin", "light")


class RegistrationError(ValueError):
    """A node registration that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class Node:
    node_id: str
    role: str
    lat: float
    lon: float
    kind: str = ""  # bin type or light zone

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

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
        return cls(node_id, role, float(lat), float(lon), kind)  # type: ignore[arg-type]

    @classmethod
    def from_json(cls, data: bytes) -> Node:
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise RegistrationError("registration is not valid JSON") from None
        return cls.from_dict(raw)
