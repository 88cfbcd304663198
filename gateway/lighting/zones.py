"""Lighting zones: how the poles of a zone light the street (idle and active
levels, hold, ramps), when they are on (dusk to dawn by the astronomical
clock, or fixed hours), and stepped levels through the night in the spirit of
EN 13201's adaptive classes (lower levels when traffic is low).

Pure logic: checking settings (one-line errors), reading and writing them as
JSON, the levels at a moment, the profile a node runs. No SQLite here; the
store keeps the JSON and the change log.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from firmware.lighting import astro
from firmware.lighting import payload as light_codec

ALWAYS = "always"
DUSK_DAWN = "dusk-dawn"
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class ZoneError(ValueError):
    """A zone setting that cannot be used; the message names it."""


def parse_hhmm(text: str, what: str) -> int:
    """'23:30' -> minutes after midnight; '24:00' is the end of the day."""
    m = _HHMM.match(text.strip())
    if not m or int(m.group(2)) > 59 or int(m.group(1)) * 60 + int(m.group(2)) > 1440:
        raise ZoneError(f"{what} {text!r} is not a time like 23:00")
    return int(m.group(1)) * 60 + int(m.group(2))


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _span(text: str, what: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ZoneError(f"{what} {text!r} is not a span like 23:00-05:00")
    a, b = parse_hhmm(start, what), parse_hhmm(end, what)
    if a % 1440 == b % 1440:
        raise ZoneError(f"{what} {text!r} starts and ends at the same time")
    return a % 1440, b if b == 1440 else b % 1440


def _within(minute: int, start: int, end: int) -> bool:
    """minute (0..1439) in [start, end), wrapping past midnight."""
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def _covers(st: Step, minute: int) -> bool:
    if st.end_min == 1440:
        return minute >= st.start_min
    return _within(minute, st.start_min, st.end_min)


@dataclass(frozen=True)
class Step:
    """Levels for a part of the night, e.g. 23:00-05:00 idle 10 %, active 60 %."""
    start_min: int
    end_min: int
    idle_pct: int
    active_pct: int

    @classmethod
    def parse(cls, text: str) -> Step:
        """'23:00-05:00=10/60': from, to (local time), idle %/active %."""
        span, sep, levels = text.partition("=")
        idle, slash, active = levels.partition("/")
        if not sep or not slash:
            raise ZoneError(f"step {text!r} is not like 23:00-05:00=10/60 (idle %/active %)")
        a, b = _span(span, "step")
        try:
            return cls(a, b, int(idle), int(active))
        except ValueError:
            raise ZoneError(f"step {text!r}: levels must be whole percents, "
                            "like 23:00-05:00=10/60") from None

    def __str__(self) -> str:
        return f"{hhmm(self.start_min)}-{hhmm(self.end_min)}={self.idle_pct}/{self.active_pct}"


@dataclass(frozen=True)
class Zone:
    name: str
    idle_pct: int = 20
    active_pct: int = 100
    hold_s: int = 60
    ramp_up_s: float = 0.5  # idle to active: fast
    ramp_down_s: int = 10  # back to idle: slow, unnoticed
    safe_idle_pct: int = 50  # idle while the gateway is away
    offline_after_min: int = 10
    hours: str = DUSK_DAWN  # "dusk-dawn", "HH:MM-HH:MM" (local time) or "always"
    dusk_offset_min: int = 0  # on this long after sunset (negative: before)
    dawn_offset_min: int = 0  # off this long after sunrise (negative: before)
    steps: tuple[Step, ...] = field(default_factory=tuple)
    lamp_w: float = 40.0  # the lamp's power at 100 %
    timezone: str = "Europe/Stockholm"
    revision: int = 0  # stored revision; 0: never set, the defaults

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ZoneError with one line naming the first bad setting."""
        if not _ZONE_NAME.match(self.name):
            raise ZoneError(f"zone name {self.name!r} must be 1-40 characters of "
                            "A-Z a-z 0-9 - _ .")
        for what in ("idle_pct", "active_pct", "safe_idle_pct"):
            _pct(getattr(self, what), what.removesuffix("_pct"))
        if self.idle_pct > self.active_pct:
            raise ZoneError(f"idle level {self.idle_pct} % is above the active level "
                            f"{self.active_pct} %")
        if self.safe_idle_pct > self.active_pct:
            raise ZoneError(f"safe idle level {self.safe_idle_pct} % is above the active level "
                            f"{self.active_pct} %")
        _whole(self.hold_s, "hold", 0, 0xFFFF, "s")
        if not isinstance(self.ramp_up_s, int | float) or math.isnan(self.ramp_up_s) \
                or not 0 <= self.ramp_up_s <= 25.5:
            raise ZoneError(f"ramp up must be 0..25.5 s, got {self.ramp_up_s}")
        _whole(self.ramp_down_s, "ramp down", 0, 255, "s")
        _whole(self.offline_after_min, "offline after", 1, 255, "min")
        _whole(self.dusk_offset_min, "dusk offset", -180, 180, "min")
        _whole(self.dawn_offset_min, "dawn offset", -180, 180, "min")
        if not isinstance(self.lamp_w, int | float) or not 0 < self.lamp_w <= 2000:
            raise ZoneError(f"lamp power must be above 0 and at most 2000 W, got {self.lamp_w}")
        if self.hours not in (ALWAYS, DUSK_DAWN):
            if not isinstance(self.hours, str) or "-" not in self.hours:
                raise ZoneError(f"hours must be dusk-dawn, always or HH:MM-HH:MM, "
                                f"got {self.hours!r}")
            _span(self.hours, "hours")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory
            raise ZoneError(f"timezone {self.timezone!r} is unknown; "
                            "give one like Europe/Stockholm") from None
        taken = [False] * 1440
        for st in self.steps:
            _pct(st.idle_pct, f"step {st} idle")
            _pct(st.active_pct, f"step {st} active")
            if st.idle_pct > st.active_pct:
                raise ZoneError(f"step {st}: idle level {st.idle_pct} % is above the active "
                                f"level {st.active_pct} %")
            for m in range(1440):
                if _covers(st, m):
                    if taken[m]:
                        raise ZoneError(f"step {st} overlaps another step at {hhmm(m)}")
                    taken[m] = True

    # --- as text and JSON -------------------------------------------------
    def settings(self) -> dict[str, str]:
        """Every setting as the operator reads it: for `zone show` and the log."""
        return {
            "idle": f"{self.idle_pct} %", "active": f"{self.active_pct} %",
            "hold": f"{self.hold_s} s", "ramp-up": f"{self.ramp_up_s:g} s",
            "ramp-down": f"{self.ramp_down_s} s", "safe-idle": f"{self.safe_idle_pct} %",
            "offline-after": f"{self.offline_after_min} min", "hours": self.hours,
            "dusk-offset": f"{self.dusk_offset_min} min",
            "dawn-offset": f"{self.dawn_offset_min} min",
            "steps": ", ".join(str(s) for s in self.steps) or "none",
            "lamp": f"{self.lamp_w:g} W", "timezone": self.timezone,
        }

    def to_json(self) -> str:
        body = asdict(self)
        body["steps"] = [str(s) for s in self.steps]
        del body["revision"]
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, revision: int = 0) -> Zone:
        raw = json.loads(text)
        raw["steps"] = tuple(Step.parse(s) for s in raw.get("steps", []))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known}, revision=revision)

    def changed(self, **changes: Any) -> Zone:
        """This zone with some settings changed (checked)."""
        try:
            return replace(self, **changes)
        except TypeError as e:
            raise ZoneError(str(e)) from None

    # --- what it means -------------------------------------------------------
    def profile(self) -> light_codec.Profile:
        """The profile a node of this zone runs (POST /z)."""
        return light_codec.Profile(self.revision & 0xFFFF, self.idle_pct, self.active_pct,
                                   self.hold_s, int(round(self.ramp_up_s * 10)),
                                   self.ramp_down_s, self.safe_idle_pct,
                                   self.offline_after_min)

    def is_on(self, t: float, lat: float, lon: float) -> bool:
        if self.hours == ALWAYS:
            return True
        if self.hours == DUSK_DAWN:
            return bool(astro.is_dark(lat, lon, int(t), dusk_offset_s=self.dusk_offset_min * 60,
                                      dawn_offset_s=self.dawn_offset_min * 60))
        start, end = _span(self.hours, "hours")
        minute = self.local_minute(t)
        return minute >= start if end == 1440 else _within(minute, start, end)

    def local_minute(self, t: float) -> int:
        local = datetime.fromtimestamp(t, ZoneInfo(self.timezone))
        return local.hour * 60 + local.minute

    def levels_at_minute(self, minute: int) -> tuple[int, int]:
        """(idle %, active %) at a local minute of the day, steps applied."""
        for st in self.steps:
            if _covers(st, minute):
                return st.idle_pct, st.active_pct
        return self.idle_pct, self.active_pct


def _pct(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ZoneError(f"{what} level must be a whole percent 0..100, got {value}")


def _whole(value: object, what: str, lo: int, hi: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        if isinstance(value, int | float) and value < 0 <= lo:
            raise ZoneError(f"{what} must not be negative, got {value} {unit}")
        raise ZoneError(f"{what} must be a whole number {lo}..{hi} {unit}, got {value}")


class ZoneBook:
    """The zones a gateway knows, with the levels at a moment cached per minute
    (the light wave asks for them at every event and must stay fast)."""

    def __init__(self, zones: dict[str, Zone] | None = None) -> None:
        self.zones = dict(zones or {})
        self._cache: dict[tuple[str, int, int, int], tuple[bool, int, int]] = {}

    def zone(self, name: str) -> Zone:
        z = self.zones.get(name)
        if z is None:
            z = self.zones[name] = Zone(name if _ZONE_NAME.match(name) else "default")
        return z

    def levels(self, name: str, t: float, lat: float, lon: float) -> tuple[bool, int, int]:
        """(lit, idle %, active %) for a pole of zone `name` at (lat, lon) at t."""
        # Per minute, and per ~1 km square for the astronomical clock.
        key = (name, int(t // 60), int(lat * 100), int(lon * 50))
        got = self._cache.get(key)
        if got is None:
            if len(self._cache) > 20000:
                self._cache.clear()
            z = self.zone(name)
            idle, active = z.levels_at_minute(z.local_minute(t))
            got = self._cache[key] = (z.is_on(t, lat, lon), idle, active)
        return got
