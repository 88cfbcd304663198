"""What the API keeps of each bin between requests, so that a page of bins or
the list of alarms costs the same at ten thousand bins as at ten.

- BinForecasts: each bin's forecast, learnt from that bin's own reports and
  crews' records (bins do not learn from each other, so one bin's model is
  the same whether learnt alone or with the district). A bin is learnt when
  it is first asked for, and again once something of its own has been stored
  since: the new rows are found by their ids, whoever stored them (the
  gateway's pipeline, a crew's phone, `kvarter bins emptied`).
- BinStates: each bin's latest report and latest contact, brought up to date
  from the reports stored since the last look; the alarms follow from them,
  with since when each has shown (read once per bin report) and who
  acknowledged it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gateway.api.alarms import ALARMS, BIN_OFFLINE_S, alarm_names, is_acknowledged, onset
from gateway.storage.alarm_acks import AckRow
from gateway.storage.store import Store
from gateway.waste.forecast import BinModel, Forecaster
from gateway.waste.planning import DEFAULT_PLAN
from gateway.waste.today import FORECAST_SKEW_S, local_utc_offset_h

# A bin with a reading dated ahead of the clock (not learnt from yet) is
# learnt again this much later, when that reading may have come due.
RETRY_S = 60.0
DAY_S = 86400.0


_Learnt = tuple[BinModel | None, float | None, bool]  # model, full at, to learn again


class BinForecasts:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._forecaster = Forecaster(utc_offset_h=local_utc_offset_h())
        self._full_at: dict[str, float | None] = {}
        self._retry: dict[str, float] = {}
        self._seen: tuple[int, int] | None = None
        # Bumped for a bin each time something of its own is found stored:
        # what warm() learnt meanwhile is not kept.
        self._changes: dict[str, int] = {}
        # node id -> (the minute it was worked out in, expected level a day on)
        self._ahead: dict[str, tuple[int, float]] = {}
        self.learnt = 0  # bins learnt, first time or again: for the tests

    def _look(self, store: Store) -> None:
        """Forget the bins with something of their own stored since the last look."""
        offset = local_utc_offset_h()
        if offset != self._forecaster.utc_offset_h:  # the clocks changed
            self._forecaster = Forecaster(utc_offset_h=offset)
            self._full_at.clear()
            self._retry.clear()
            self._ahead.clear()
        if self._seen is None:
            self._seen = (store.last_bin_report_id(), store.last_visit_id())
            return
        changed, reports, visits = store.forecast_changes(*self._seen)
        self._seen = (reports, visits)
        for node_id in changed:
            self._full_at.pop(node_id, None)
            self._changes[node_id] = self._changes.get(node_id, 0) + 1

    def get(self, store: Store, node_ids: Iterable[str]) -> Forecaster:
        """The forecaster, with these bins' models current."""
        with self._lock:
            now = self.clock()
            self._look(store)
            for node_id in node_ids:
                if node_id not in self._full_at or self._retry.get(node_id, math.inf) <= now:
                    self._keep(node_id, self._learn(store, node_id, now,
                                                    self._forecaster.utc_offset_h), now)
            return self._forecaster

    def full_at(self, node_id: str) -> float | None:
        """When the bin is expected to reach the plan's must level (within
        two weeks): worked out when the bin was learnt (get() first)."""
        return self._full_at.get(node_id)

    def last_emptied(self, node_id: str) -> float | None:
        """When the bin was last emptied, by its reports or a crew's record,
        as far as it was learnt (get() or warm() first)."""
        with self._lock:
            model = self._forecaster.bins.get(node_id)
            return model.emptied[-1] if model is not None and model.emptied else None

    def level_in_a_day(self, node_id: str, now: float) -> float:
        """The bin's expected level a day from now (NaN: nothing known), at
        most a minute old: worked out hour by hour, it is the page's
        costliest part (get() first)."""
        minute = int(now // 60)
        kept = self._ahead.get(node_id)
        if kept is not None and kept[0] == minute:
            return kept[1]
        level = self._forecaster.level_at(node_id, now + DAY_S)
        self._ahead[node_id] = (minute, level)
        return level

    def warm(self, store: Store, stop: threading.Event) -> int:
        """Learn every bin not learnt yet, one at a time, resting as long as
        each took (half a core at most, beside the requests and the
        gateway's own work), until done or told to stop. Returns how many it
        learnt. Run in a thread of its own when the API starts, so that the
        first pages asked for are ready."""
        with self._lock:
            self._look(store)
        done = 0
        for node_id, _, _ in store.bin_places():
            if stop.is_set():
                break
            with self._lock:
                if node_id in self._full_at:
                    continue
                changes, offset = self._changes.get(node_id, 0), self._forecaster.utc_offset_h
            t0 = time.perf_counter()
            now = self.clock()
            learnt = self._learn(store, node_id, now, offset)
            with self._lock:
                self._look(store)
                if node_id not in self._full_at and self._changes.get(node_id, 0) == changes \
                        and offset == self._forecaster.utc_offset_h:
                    self._keep(node_id, learnt, now)
                    done += 1
            stop.wait(time.perf_counter() - t0)
        return done

    @staticmethod
    def _learn(store: Store, node_id: str, now: float, offset: float) -> _Learnt:
        alone = Forecaster(utc_offset_h=offset, not_after=now + FORECAST_SKEW_S)
        alone.feed(store.bin_fill_history(node_id))
        for at in store.bin_emptied_at(node_id):
            alone.mark_emptied(node_id, at)
        t = alone.crossing_time(node_id, DEFAULT_PLAN.must_level_pct)
        return (alone.bins.get(node_id), None if t is None or not math.isfinite(t) else t,
                alone.ignored > 0)

    def _keep(self, node_id: str, learnt: _Learnt, now: float) -> None:
        model, full_at, again = learnt
        if model is None:
            self._forecaster.bins.pop(node_id, None)
        else:
            self._forecaster.bins[node_id] = model
        if again:
            self._retry[node_id] = now + RETRY_S
        else:
            self._retry.pop(node_id, None)
        self._full_at[node_id] = full_at
        self._ahead.pop(node_id, None)
        self.learnt += 1


@dataclass
class _Bin:
    lat: float
    lon: float
    report_id: int = 0  # of the latest report (by its measured time)
    last_id: int = 0  # of the report stored last
    measured_at: int | None = None
    received_at: float | None = None  # the latest receipt of any of its reports
    flags: int | None = None
    battery_mv: int | None = None
    names: list[str] = field(default_factory=list)  # its latest report's alarms


@dataclass(frozen=True)
class AlarmRow:
    node_id: str
    alarm: str
    since: float | None
    lat: float
    lon: float
    ack: AckRow | None  # the acknowledgement that covers it, if any


class BinStates:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._bins: dict[str, _Bin] = {}
        self._places: object = None
        self._report_id = 0
        self._acks: dict[tuple[str, str], AckRow] = {}
        self._ack_id = 0
        # (node id, alarm) -> (the bin's latest report id then, (since, known))
        self._onsets: dict[tuple[str, str], tuple[int, tuple[float | None, float | None]]] = {}

    def _refresh(self, store: Store) -> None:
        places = store.bin_places_version()
        if places != self._places:
            self._places = places
            bins = store.bin_places()
            if len(bins) != len(self._bins) or any(n not in self._bins for n, _, _ in bins):
                # A bin registered or removed: everything read again, so
                # that a new bin's reports are not missed.
                self._bins = {n: _Bin(lat, lon) for n, lat, lon in bins}
                self._report_id = 0
            else:
                for n, lat, lon in bins:  # a bin moved
                    b = self._bins[n]
                    b.lat, b.lon = lat, lon
        if self._report_id == 0:
            last = store.last_bin_report_id()
            rows = store.bin_reports_after(0)
        else:
            rows = store.bin_reports_after(self._report_id)
            last = max((r[0] for r in rows), default=self._report_id)
        for report_id, node_id, measured, received, flags, battery in rows:
            found = self._bins.get(node_id)
            if found is None:
                continue
            b = found
            if b.received_at is None or received > b.received_at:
                b.received_at = received
            b.last_id = max(b.last_id, report_id)
            if b.measured_at is None or (measured, report_id) >= (b.measured_at, b.report_id):
                b.report_id, b.measured_at, b.flags, b.battery_mv = (
                    report_id, measured, flags, battery)
                b.names = alarm_names(flags, battery) if flags is not None else []
        self._report_id = last
        for ack_id, ack in store.acks_after(self._ack_id, limit=10**9):
            self._acks[(ack.node_id, ack.alarm)] = ack
            self._ack_id = ack_id

    def alarms(self, store: Store, node_id: str | None = None) -> list[AlarmRow]:
        """Every bin's alarms now (or one bin's), ordered by how serious,
        then by bin."""
        with self._lock:
            self._refresh(store)
            now = self.clock()
            out = []
            items = self._bins.items() if node_id is None else (
                [(node_id, self._bins[node_id])] if node_id in self._bins else [])
            silent = now - BIN_OFFLINE_S
            for n, b in items:
                names = b.names
                if b.received_at is None or b.received_at < silent:
                    names = [*names, "offline"]
                for name in names:
                    since, known = self._onset(store, n, name, b)
                    ack = self._acks.get((n, name))
                    out.append(AlarmRow(n, name, since, b.lat, b.lon,
                                        ack if is_acknowledged(ack, known) else None))
        out.sort(key=lambda a: (ALARMS.index(a.alarm), a.node_id))
        return out

    def _onset(self, store: Store, node_id: str, name: str,
               b: _Bin) -> tuple[float | None, float | None]:
        if name == "offline":
            return b.received_at, b.received_at
        kept = self._onsets.get((node_id, name))
        if kept is not None and kept[0] == b.last_id:
            return kept[1]
        found = onset(store, node_id, name, b.received_at)
        self._onsets[(node_id, name)] = (b.last_id, found)
        return found
