"""Knowing when each bin will be full.

Each bin learns its own fill rhythm from its reports: a fill rate (percent per
hour) for every hour of a weekday and every hour of a weekend day, so a bin by
a commuter stop and one in a park each get their own shape. Emptyings are
recognised from the level dropping; compaction in a compacting bin (a smaller
drop that leaves rubbish in the bin) is not taken for one. Gaps between
reports are fine: a rate measured over a gap is spread over the hours it
covers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

HOUR = 3600.0
BUCKETS = 48  # 24 weekday hours, then 24 weekend hours

# A drop counts as an emptying when the bin ends up nearly empty, or when the
# level falls by more than half of what it was: compaction leaves far more.
EMPTY_AFTER_PCT = 15.0
EMPTY_MIN_DROP_PCT = 20.0
EMPTY_LARGE_DROP_PCT = 50.0

# How strongly a bucket with few observations leans on the bin's overall rate.
PRIOR_WEIGHT = 2.0
MIN_SPAN_H = 3.0
# A bin filling faster than usual today (a market, a match) is assumed to go
# on doing so until midnight: the rise over the last SURGE_WINDOW_H hours
# against what its rhythm predicts, at most SURGE_MAX times.
SURGE_WINDOW_H = 6.0
SURGE_MIN_RISE_PCT = 5.0
SURGE_MAX = 4.0
# Hours of observation before a bucket's own rate is trusted.
COLD_WEIGHT = 2.0
# Observations are averaged with a window of about this many per bucket, so
# that a bin whose use changes (a new bus stop, a closed shop) adapts.
MEMORY = 8.0


def bucket_of(t: float, utc_offset_h: float = 0.0) -> int:
    """The hour-of-week bucket of unix time t in local time."""
    local = t + utc_offset_h * HOUR
    days = math.floor(local / 86400)
    hour = int((local - days * 86400) // HOUR)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return hour + (24 if weekday >= 5 else 0)


# How far ahead of a bin's last report the forecast goes.
LOOK_AHEAD_MAX_H = 24 * 60


@dataclass
class BinModel:
    """What is known of one bin's filling."""

    last_t: float | None = None
    last_level: float | None = None
    # The reading rates are measured from: rates over at least MIN_SPAN_H
    # keep a sensor's few millimetres of noise from looking like filling.
    anchor_t: float | None = None
    anchor_level: float | None = None
    rate: list[float] = field(default_factory=lambda: [0.0] * BUCKETS)
    var: list[float] = field(default_factory=lambda: [0.0] * BUCKETS)
    weight: list[float] = field(default_factory=lambda: [0.0] * BUCKETS)
    mean_rate: float = 0.0
    mean_weight: float = 0.0
    emptied: list[float] = field(default_factory=list)
    recent: list[tuple[float, float]] = field(default_factory=list)  # since emptying, <= 12 h

    def _learn(self, b: int, rate: float, hours: float) -> None:
        w = min(self.weight[b] + hours, MEMORY)
        a = hours / w
        delta = rate - self.rate[b]
        self.rate[b] += a * delta
        self.var[b] = (1 - a) * (self.var[b] + a * delta * delta)
        self.weight[b] = w
        mw = min(self.mean_weight + hours, MEMORY * BUCKETS)
        self.mean_rate += hours / mw * (rate - self.mean_rate)
        self.mean_weight = mw

    def expected_rate(self, b: int) -> tuple[float, float, bool]:
        """(mean, standard deviation, known) of the fill rate in bucket b, %/h.
        A bucket seen fewer than COLD_WEIGHT hours is not known yet."""
        w = self.weight[b]
        mean = (w * self.rate[b] + PRIOR_WEIGHT * self.mean_rate) / (w + PRIOR_WEIGHT)
        if w < COLD_WEIGHT:
            # Not seen yet (a bin's first weekend, say): it may well differ
            # from the average as much as the average itself.
            return max(0.0, mean), abs(self.mean_rate), False
        return max(0.0, mean), math.sqrt(self.var[b]), True


class Forecaster:
    """not_after: readings dated later than this (unix time) are ignored. The
    forecast "as of now" sets it to now plus a little clock skew, so that one
    reading dated in the future (a node's clock gone wrong, 2106 say) cannot
    become the bin's latest state and hide every later report for good."""

    def __init__(self, utc_offset_h: float = 0.0, not_after: float | None = None) -> None:
        self.utc_offset_h = utc_offset_h
        self.not_after = not_after
        self.bins: dict[str, BinModel] = {}
        self.ignored = 0  # readings dated after not_after

    def model(self, node_id: str) -> BinModel:
        return self.bins.setdefault(node_id, BinModel())

    def observe(self, node_id: str, t: float, level: float | None) -> bool:
        """Take one report; returns True when it shows the bin was emptied."""
        if level is None or not math.isfinite(t):
            return False
        if self.not_after is not None and t > self.not_after:
            self.ignored += 1
            return False
        m = self.model(node_id)
        if m.last_t is None or m.last_level is None:
            m.last_t, m.last_level, m.anchor_t, m.anchor_level = t, level, t, level
            return False
        if t <= m.last_t:
            return False  # late or repeated: the newer reading stands
        drop = m.last_level - level
        emptied = drop >= EMPTY_MIN_DROP_PCT and (
            level <= EMPTY_AFTER_PCT or drop >= EMPTY_LARGE_DROP_PCT
            or drop >= m.last_level / 2)
        if emptied:
            m.emptied.append(t)
            m.anchor_t, m.anchor_level = t, level
        elif m.anchor_t is not None and m.anchor_level is not None:
            if level >= 99.5:
                # A full bin's sensor cannot see it fill further.
                m.anchor_t, m.anchor_level = t, level
            elif (t - m.anchor_t) / HOUR >= MIN_SPAN_H:
                self._spread(m, m.anchor_t, t, level - m.anchor_level)
                m.anchor_t, m.anchor_level = t, level
        m.last_t, m.last_level = t, level
        if emptied:
            m.recent.clear()
        m.recent.append((t, level))
        while m.recent and t - m.recent[0][0] > 2 * SURGE_WINDOW_H * HOUR:
            m.recent.pop(0)
        return emptied

    def _spread(self, m: BinModel, t0: float, t1: float, rise: float) -> None:
        hours = (t1 - t0) / HOUR
        if hours <= 0:
            return
        rate = rise / hours
        t = t0
        while t < t1:
            step = min(HOUR - (t % HOUR) or HOUR, t1 - t)
            m._learn(bucket_of(t, self.utc_offset_h), rate, step / HOUR)
            t += step

    def mark_emptied(self, node_id: str, t: float) -> None:
        """A crew emptied the bin at t (before its next report says so)."""
        if self.not_after is not None and t > self.not_after:
            self.ignored += 1
            return
        m = self.model(node_id)
        if m.last_t is None or t >= m.last_t:
            m.last_t, m.last_level = t, 0.0
            m.anchor_t, m.anchor_level = t, 0.0
            m.emptied.append(t)
            m.recent = [(t, 0.0)]

    def level_at(self, node_id: str, t: float, z: float = 0.0) -> float:
        """Expected level at time t. With z > 0, an upper estimate: z standard
        deviations above, taking the errors of known hours as independent and
        those of hours not yet seen as all going the same way."""
        m = self.bins.get(node_id)
        if m is None or m.last_t is None or m.last_level is None:
            return math.nan
        level, var, unknown = m.last_level, 0.0, 0.0
        cur = m.last_t
        surge, surge_until = self.surge(m)
        # Hour by hour from the last report: a time far ahead (a plan for a
        # day years away) would take for ever, and any bin is overfull long
        # before LOOK_AHEAD_MAX_H.
        t = min(t, cur + LOOK_AHEAD_MAX_H * HOUR)
        while cur < t:
            step = min(HOUR - (cur % HOUR) or HOUR, t - cur)
            mean, sd, known = m.expected_rate(bucket_of(cur, self.utc_offset_h))
            if cur < surge_until:
                mean *= surge
            h = step / HOUR
            level += mean * h
            if known:
                var += (sd * h) ** 2
            else:
                unknown += sd * h
            cur += step
        return level + z * (math.sqrt(var) + unknown)

    def surge(self, m: BinModel) -> tuple[float, float]:
        """(factor, until): how much faster than its rhythm the bin has been
        filling over the last few hours, and the local midnight it is
        assumed to last until. (1.0, 0.0) when it is not."""
        if m.last_t is None or m.last_level is None:
            return 1.0, 0.0
        start = next(((t, lv) for t, lv in m.recent
                      if m.last_t - t <= SURGE_WINDOW_H * HOUR), None)
        if start is None or m.last_level - start[1] < SURGE_MIN_RISE_PCT:
            return 1.0, 0.0
        expected, cur = 0.0, start[0]
        while cur < m.last_t:
            step = min(HOUR - (cur % HOUR) or HOUR, m.last_t - cur)
            expected += m.expected_rate(bucket_of(cur, self.utc_offset_h))[0] * step / HOUR
            cur += step
        factor = (m.last_level - start[1]) / max(expected, 0.1)
        if factor <= 1.0:
            return 1.0, 0.0
        local = m.last_t + self.utc_offset_h * HOUR
        midnight = (math.floor(local / 86400) + 1) * 86400 - self.utc_offset_h * HOUR
        return min(factor, SURGE_MAX), midnight

    def crossing_time(self, node_id: str, level: float, horizon_h: float = 24 * 14) -> float | None:
        """When the bin is expected to reach `level`, within the horizon."""
        m = self.bins.get(node_id)
        if m is None or m.last_t is None or m.last_level is None:
            return None
        cur, now_level = m.last_t, m.last_level
        if now_level >= level:
            return cur
        end = cur + horizon_h * HOUR
        while cur < end:
            step = HOUR - (cur % HOUR) or HOUR
            mean, _, _ = m.expected_rate(bucket_of(cur, self.utc_offset_h))
            rise = mean * step / HOUR
            if now_level + rise >= level:
                return cur + (level - now_level) / mean * HOUR if mean > 0 else None
            now_level += rise
            cur += step
        return None

    def feed(self, rows: Iterable[tuple[str, float, float | None]]) -> None:
        """Reports (node id, time, level) in time order, e.g. from the store."""
        for node_id, t, level in rows:
            self.observe(node_id, t, level)
