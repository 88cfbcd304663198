"""The map's answer, made in the background and kept, so that asking for it
costs next to nothing whatever the district's size.

A request gets the latest answer made. At most every CHECK_EVERY_S a request
also looks whether anything the map shows has changed since (a node, a
report, a pole's status, an acknowledgement, a new forecast),
and if so, or if the answer is older than MAX_AGE_S (bins and poles go
offline by the clock alone), a new answer is made in a thread beside it on a
connection of its own, for the requests after. Only the very first request
waits for one.

The forecast's "full by" takes seconds of CPU to learn from every stored
report: it is made in a process of its own (gateway/waste/full_by.py) when
reports or crews' records have changed, at most every FORECAST_EVERY_S (an
hour-scale forecast does not move in minutes). Until the first one is
made, the map says so (forecast_at null) and has no "full by"."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.api.alarms import BIN_OFFLINE_S, LIGHT_OFFLINE_S, alarm_names, is_acknowledged, onset
from gateway.api.planner import child_env
from gateway.storage.store import Store

log = logging.getLogger("gateway.api")

CHECK_EVERY_S = 2.0
MAX_AGE_S = 30.0
FORECAST_EVERY_S = 300.0


class _Forecasts:
    """Each bin's "full by", from a child process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.full_at: dict[str, float | None] = {}
        self.made_at: float | None = None
        self._version: tuple[int, int] | None = None
        self._started = -FORECAST_EVERY_S
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False

    def refresh(self, db_path: Path, version: tuple[int, int], now: float) -> None:
        """Start making a new one if the reports have changed and the last
        was started long enough ago."""
        with self._lock:
            if self._closed or self._proc is not None or version == self._version \
                    or now - self._started < FORECAST_EVERY_S:
                return
            self._started = now
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "gateway.waste.full_by", str(db_path)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
            except OSError as e:
                log.error("cannot start the map's forecast: %s", e)
                return
            proc = self._proc
        threading.Thread(target=self._wait, args=(proc, version), daemon=True,
                         name="map-forecast").start()

    def _wait(self, proc: subprocess.Popen[bytes], version: tuple[int, int]) -> None:
        out, err = proc.communicate()
        with self._lock:
            self._proc = None
            if proc.returncode != 0:
                if not self._closed:
                    log.error("the map's forecast failed (exit %s): %s", proc.returncode,
                              err.decode(errors="replace").strip()[-1000:])
                return
            try:
                full_at = json.loads(out)
            except ValueError:
                log.error("the map's forecast answered no JSON")
                return
            self.full_at, self.made_at, self._version = full_at, time.time(), version

    def close(self) -> None:
        with self._lock:
            self._closed = True
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()


def build_map(store: Store, full_at: dict[str, float | None], forecast_at: float | None,
              now: float) -> bytes:
    """The map's answer, as JSON."""
    bins = store.map_bins()
    acks = store.latest_acks()
    alarms: list[list[str]] = []
    states: list[str] = []
    for node_id, _lat, _lon, _fill, _at, received, flags, battery in bins:
        names = alarm_names(flags, battery) if flags is not None else []
        if received is None or now - received > BIN_OFFLINE_S:
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
        alarms.append(names)
        states.append(state)
    columns = list(zip(*bins, strict=True)) if bins else [()] * 8
    poles = store.map_poles()
    pole_columns = list(zip(*poles, strict=True)) if poles else [()] * 6
    # A pole's status reports (every quarter hour), never its presence events.
    contact = list(pole_columns[4])
    parts = [f'{{"made_at":{round(now, 3)},"forecast_at":{json.dumps(forecast_at)},"bins":{{']
    parts += _columns({
        "node_id": columns[0], "lat": columns[1], "lon": columns[2], "fill_pct": columns[3],
        "measured_at": columns[4], "full_at": [full_at.get(n) for n in columns[0]],
        "alarms": alarms, "alarm_state": states})
    parts.append('},"poles":{')
    parts += _columns({
        "node_id": pole_columns[0], "lat": pole_columns[1], "lon": pole_columns[2],
        "level_pct": pole_columns[3],
        "online": [t is not None and now - t <= LIGHT_OFFLINE_S for t in contact],
        "last_contact": contact, "zone": pole_columns[5]})
    parts.append("}}")
    return "".join(parts).encode()


# Encoded a slice at a time: one call of the JSON encoder holds the
# interpreter's lock throughout, and the requests answered meanwhile wait.
_SLICE = 1000


def _columns(columns: dict[str, Sequence[object]]) -> list[str]:
    parts = []
    for k, (name, values) in enumerate(columns.items()):
        parts.append(f'{"," if k else ""}"{name}":[')
        parts.append(",".join(json.dumps(values[i:i + _SLICE], separators=(",", ":"),
                                         allow_nan=False)[1:-1]
                              for i in range(0, len(values), _SLICE)))
        parts.append("]")
    return parts


class MapCache:
    """The latest map answer, made again beside the requests that read it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._first = threading.Lock()
        self._body: bytes | None = None
        self._version: object = None
        self._made = 0.0
        self._checked = 0.0
        self._building = False
        self.forecasts = _Forecasts()

    def _version_of(self, store: Store, now: float) -> object:
        reports = store.forecast_version()
        self.forecasts.refresh(store.path, reports, now)
        return store.map_version(), store.last_ack_id(), self.forecasts.made_at

    def get(self, store: Store, builder: Store | None = None) -> bytes:
        """The latest answer; builder: the connection to make new ones on."""
        now = self.clock()
        with self._lock:
            body = self._body
            if body is not None and (self._building or now - self._checked < CHECK_EVERY_S):
                return body
            self._checked = now
        version = self._version_of(store, now)
        with self._lock:
            if body is not None:
                if self._building or (version == self._version
                                      and now - self._made <= MAX_AGE_S):
                    return body
                self._building = True
        if body is None:
            with self._first:  # one first answer, however many ask for it at once
                if self._body is None:
                    self._build(builder or store, version)
                assert self._body is not None
                return self._body
        threading.Thread(target=self._build_in_background, args=(builder or store, version),
                         daemon=True, name="map").start()
        return body

    def _build(self, store: Store, version: object) -> None:
        now = self.clock()
        f = self.forecasts
        body = build_map(store, f.full_at, f.made_at, now)
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

    def close(self) -> None:
        self.forecasts.close()
