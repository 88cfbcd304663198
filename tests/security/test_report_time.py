"""Attack: one report dated far in the future (2106) or long past hides a
full bin from the forecast, the crews' plan and the summary for good. The
gateway refuses it with 4.00 and a one-line diagnostic, and never stores it."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import launch_gateway
from security_support import bin_rows, post_report, production_gateway

from firmware import codec
from gateway.records import Node
from gateway.storage.store import Store
from gateway.waste.forecast import Forecaster
from gateway.waste.today import forecast_from

BIN = Node("B0001", "bin", 60.67, 17.14, "240L")
YEAR_2106 = 0xFFFFFFF0


def _report(seq: int, t: int, fill: float) -> bytes:
    return codec.encode_bin_report(codec.BinReport(seq, t, fill, 8, 3600))


def test_reports_dated_outside_the_clock_bounds_are_refused_and_never_stored(
        tmp_path: Path) -> None:
    gw = production_gateway(tmp_path)
    try:
        gw.register(BIN)
        now = int(time.time())
        ahead = post_report(gw, b"b", "B0001", _report(1, YEAR_2106, 10.0), mid=1)
        assert ahead[0] == "4.00"
        assert "ahead of the gateway's clock" in ahead[1] and "\n" not in ahead[1]
        old = post_report(gw, b"b", "B0001", _report(2, now - 30 * 86400, 10.0), mid=2)
        assert old[0] == "4.00" and "days old" in old[1] and "\n" not in old[1]
        # Just inside the bounds: within the clock skew ahead, a week behind
        # (what a node's queue can hold), and an unset clock (0).
        assert post_report(gw, b"b", "B0001", _report(3, now + 60, 95.0), mid=3)[0] == "2.04"
        assert post_report(gw, b"b", "B0001", _report(4, now - 7 * 86400, 20.0),
                           mid=4)[0] == "2.04"
        assert post_report(gw, b"b", "B0001", _report(5, 0, 96.0), mid=5)[0] == "2.04"
        # The light paths have the same bounds.
        gw.register(Node("L0001", "light", 60.67, 17.15, "street-1"))
        event = codec.encode_presence(codec.PresenceEvent(1, YEAR_2106, 1, 100, 1.4, 0))
        assert post_report(gw, b"p", "L0001", event, mid=6)[0] == "4.00"
    finally:
        gw.stop()
    stored = sorted(seq for _, seq, _ in bin_rows(gw.db))
    assert stored == [3, 4, 5]
    with Store(gw.db) as store:
        forecaster = forecast_from(store)
    # The bin is full in the forecast: nothing hides it.
    assert forecaster.level_at("B0001", time.time() + 3600) >= 95.0


def test_one_reading_dated_in_the_future_cannot_freeze_a_bins_forecast() -> None:
    # Already in a database (from before the bounds, or written by hand):
    # the forecast as of now does not learn from what is dated after now.
    now = 1_800_000_000.0
    f = Forecaster(not_after=now + 300)
    f.observe("B1", now - 7200, 10.0)
    f.observe("B1", YEAR_2106, 5.0)
    f.observe("B1", now - 3600, 60.0)
    f.observe("B1", now, 97.0)
    assert f.ignored == 1
    assert f.level_at("B1", now) >= 97.0
    assert f.crossing_time("B1", 90.0) == now


def test_a_gateway_as_installed_requires_oscore_and_a_keyed_node_is_never_taken_unprotected(
        tmp_path: Path) -> None:
    """The default is "required"; and even "optional" (for districts moving
    over) takes no unprotected report in the name of a node that has a key."""
    gw = launch_gateway(tmp_path / "default", virtual_time=False, oscore=None)
    try:
        gw.register(Node("B1", "bin", 60.67, 17.14, "240L"))
        code, text = post_report(gw, b"b", "B1", codec.encode_bin_report(
            codec.BinReport(1, int(time.time()), 40.0)))
        assert code == "4.01" and "OSCORE" in text
        assert bin_rows(gw.db) == []
    finally:
        assert gw.stop() == 0
    gw = launch_gateway(tmp_path / "optional", virtual_time=False, oscore="optional")
    try:
        gw.register(Node("B1", "bin", 60.67, 17.14, "240L", key=bytes(range(16)).hex()),
                    Node("B2", "bin", 60.67, 17.14, "240L"))
        report = codec.encode_bin_report(codec.BinReport(1, int(time.time()), 40.0))
        assert post_report(gw, b"b", "B1", report)[0] == "4.01"
        assert post_report(gw, b"b", "B2", report)[0] == "2.04"
        assert [r[0] for r in bin_rows(gw.db)] == ["B2"]
    finally:
        assert gw.stop() == 0
