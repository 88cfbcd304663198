"""Property tests of the bin node's report policy (firmware/waste/report_policy.py)
and of its memory across deep sleep (firmware/waste/node.py), over random
sequences of wakes."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from firmware import codec
from firmware import settings as config
from firmware.waste import node as bin_node
from firmware.waste.report_policy import State, answered, decide

fills = st.one_of(st.none(), st.integers(0, 200).map(lambda b: b / 2))
temps = st.one_of(st.none(), st.integers(-30, 120))
tilts = st.one_of(st.none(), st.integers(0, 180))
lids = st.one_of(st.none(), st.booleans())
# (fill %, temperature, tilt, lid open, whether its report is stored)
Wake = tuple[float | None, int | None, int | None, bool | None, bool]
wake = st.tuples(fills, temps, tilts, lids, st.booleans())
intervals = st.sampled_from([600, 900, 1800, 3600, 7200])
heartbeats = st.sampled_from([600, 3600, 7000, 18000, 21600, 86400])


def _cfg(interval: int, heartbeat: int) -> config.Config:
    return config.Config({"id": "B1", "role": "bin", "gateway_host": "h",
                          "measure_interval_s": interval, "heartbeat_s": heartbeat})


def _run(cfg: config.Config, wakes: Sequence[Wake]) -> list[tuple[int, int]]:
    """(wake index, flags) of every report sent."""
    s = State()
    sent = []
    for i, (pct, temp, tilt, lid, stored) in enumerate(wakes):
        fill_b = codec.fill_to_byte(pct)
        f, send = decide(cfg, s, fill_b, temp, tilt, lid, i == 0)
        if send:
            sent.append((i, f))
            answered(s, stored, fill_b, f)
    return sent


@given(intervals, heartbeats, st.lists(wake, min_size=1, max_size=80))
def test_no_gap_between_reports_is_longer_than_the_heartbeat(
        interval: int, heartbeat: int, wakes: list[Wake]) -> None:
    sent = [i for i, _ in _run(_cfg(interval, heartbeat), wakes)]
    assert sent[0] == 0  # power-on
    every = max(1, math.ceil(heartbeat / interval))
    for a, b in zip(sent, sent[1:], strict=False):
        assert b - a <= every
    assert len(wakes) - 1 - sent[-1] < every  # and none overdue at the end


@given(intervals, heartbeats, st.lists(wake, min_size=1, max_size=80))
def test_flags_say_what_was_measured(interval: int, heartbeat: int,
                                     wakes: list[Wake]) -> None:
    cfg = _cfg(interval, heartbeat)
    for i, f in _run(cfg, wakes):
        pct, temp, _, _, _ = wakes[i]
        assert bool(f & codec.BIN_FLAG_SENSOR_FAULT) == (pct is None)
        assert bool(f & codec.BIN_FLAG_THRESHOLD) == (pct is not None
                                                      and pct >= cfg.threshold_pct)
        if temp is not None and temp >= cfg.fire_temp_c:
            assert f & codec.BIN_FLAG_FIRE
        assert not f & ~codec.BIN_FLAGS_KNOWN


@given(intervals, heartbeats, st.lists(st.integers(0, 200).map(lambda b: b / 2),
                                       min_size=2, max_size=60))
def test_every_upward_crossing_is_reported_at_once(interval: int, heartbeat: int,
                                                   levels: list[float]) -> None:
    cfg = _cfg(interval, heartbeat)
    sent = dict(_run(cfg, [(p, None, None, None, True) for p in levels]))
    told = levels[0]  # the power-on report
    for i, p in enumerate(levels):
        crossed_up = told < cfg.threshold_pct <= p
        emptied = told >= cfg.threshold_pct and p < cfg.threshold_pct - 10
        if crossed_up or emptied:
            assert i in sent
        if i in sent:
            told = p


@given(st.lists(wake, min_size=1, max_size=40))
def test_quiet_bins_report_far_less_often_than_they_measure(wakes: list[Wake]) -> None:
    calm: list[Wake] = [(50.0, 12, 0, False, True) for _ in wakes]
    sent = _run(_cfg(3600, 18000), calm)
    assert len(sent) == 1 + (len(wakes) - 1) // 5


@given(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 255),
                 st.integers(0, 255), st.integers(-128, 127), st.integers(0, 255),
                 st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 255),
                 st.booleans()))
def test_node_memory_round_trips_in_fourteen_bytes(values: tuple[int, ...]) -> None:
    data = struct.pack(bin_node._STATE, bin_node._LAYOUT, *values)
    assert len(data) == 14
    assert struct.unpack(bin_node._STATE, data)[1:] == tuple(int(v) for v in values)
