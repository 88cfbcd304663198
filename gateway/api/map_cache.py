"""The map's answer, made in the background and kept: a request gets the
latest one made, and when something it shows has changed since (a report, a
status, a node, an acknowledgement), or it is older than MAX_AGE_S, a new
one is made beside it for the next request. The forecast's "full by" is
made again at most every FORECAST_EVERY_S: learning from every stored report
takes a while, and an hour's forecast does not move in a minute."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable

from gateway.api.alarms import alarm_names, is_acknowledged, offline, onset
from gateway.storage.store import Store
from gateway.waste.planning import DEFAULT_PLAN
from gateway.waste.today import forecast_from

log = logging.getLogger("gateway.api")

MAX_AGE_S = 30.0
FORECAST_EVERY_S = 60.0

def _round(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 1)


class _Forecast:
    """Each bin's "full by", made in the background at most every
    FORECAST_EVERY_S (the first time while the caller waits)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._full_at: dict[str, float | None] | None = None
        self._made = 0.0
        self._version: tuple[int, int] | None = None
        self._building = False

    def full_at(self, store: Store) -> dict[str, float | None]:
        version = store.forecast_version()
        with self._lock:
            current = self._full_at
            due = (version != self._version or time.time() - self._made > MAX_AGE_S * 10) \
                and time.time() - self._made > FORECAST_EVERY_S
            if current is not None and (not due or self._building):
                return current
            self._building = True
        if current is None:
            return self._build(store, version)
        threading.Thread(target=self._build, args=(store, version), daemon=True,
                         name="map-forecast").start()
        return current

    def _build(self, store: Store, version: tuple[int, int]) -> dict[str, float | None]:
        try:
            f = forecast_from(store)
            level = DEFAULT_PLAN.must_level_pct
            full_at = {node_id: _round(f.crossing_time(node_id, level)) for node_id in f.bins}
            with self._lock:
                self._full_at, self._made, self._version = full_at, time.time(), version
            return full_at
        except Exception as e:
            log.error("the map's forecast failed: %s", e)
            return self._full_at or {}
        finally:
            with self._lock:
                self._building = False


def build_map(store: Store, full_at: dict[str, float | None], now: float) -> bytes:
    """The map's answer, as JSON."""
    acks = store.latest_acks()
    ids: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    fills: list[float | None] = []
    measured: list[int | None] = []
    fulls: list[float | None] = []
    alarms: list[list[str]] = []
    states: list[str] = []
    for node_id, lat, lon, fill, at, received, flags, battery in store.map_bins():
        names = alarm_names(flags, battery) if flags is not None else []
        if offline("bin", received, now):
            names.append("offline")
        state = "none"
        if names:
            state = "acknowledged"
            for name in names:
                ack = acks.get((node_id, name))
                if ack is None or not is_acknowledged(ack, onset(store, node_id, name,
                                                                   received)[1]):
                    state = "active"
                    break
        ids.append(node_id)
        lats.append(lat)
        lons.append(lon)
        fills.append(fill)
        measured.append(at)
        fulls.append(full_at.get(node_id))
        alarms.append(names)
        states.append(state)
    pole_ids: list[str] = []
    plats: list[float] = []
    plons: list[float] = []
    levels: list[int | None] = []
    online: list[bool] = []
    contact: list[float | None] = []
    for node_id, lat, lon, level, status_at, presence_at in store.map_poles():
        last = max((t for t in (status_at, presence_at) if t is not None), default=None)
        pole_ids.append(node_id)
        plats.append(lat)
        plons.append(lon)
        levels.append(level)
        online.append(not offline("light", last, now))
        contact.append(None if last is None else round(last, 1))
    body = {"made_at": round(now, 3),
            "bins": {"node_id": ids, "lat": lats, "lon": lons, "fill_pct": fills,
                     "measured_at": measured, "full_at": fulls, "alarms": alarms,
                     "alarm_state": states},
            "poles": {"node_id": pole_ids, "lat": plats, "lon": plons, "level_pct": levels,
                      "online": online, "last_contact": contact}}
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


class MapCache:
    """The latest map answer, made again beside the requests that read it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._first = threading.Lock()
        self._body: bytes | None = None
        self._version: object = None
        self._made = 0.0
        self._building = False
        self.forecast = _Forecast()

    def _version_of(self, store: Store) -> object:
        return store.map_version(), store.last_ack_id(), store.forecast_version()

    def get(self, store: Store) -> bytes:
        version = self._version_of(store)
        with self._lock:
            body = self._body
            stale = version != self._version or self.clock() - self._made > MAX_AGE_S
            if body is not None and (not stale or self._building):
                return body
            if body is not None:
                self._building = True
        if body is None:
            with self._first:  # one first build, however many ask for it at once
                if self._body is None:
                    self._build(store, version)
                assert self._body is not None
                return self._body
        threading.Thread(target=self._build_in_background, args=(store, version),
                         daemon=True, name="map").start()
        return body

    def _build(self, store: Store, version: object) -> None:
        now = self.clock()
        body = build_map(store, self.forecast.full_at(store), now)
        with self._lock:
            self._body, self._version, self._made = body, version, now

    def _build_in_background(self, store: Store, version: object) -> None:
        try:
            self._build(store, version)
        except Exception as e:  # the next request tries again
            log.error("the map failed: %s", e)
        finally:
            with self._lock:
                self._building = False
