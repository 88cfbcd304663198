"""Attack: one report dated far in the future (2106) or long past hides a
full bin from the forecast, the crews' plan and the summary for good. The
gateway refuses it with 4.00 and a one-line diagnostic, and never stores it."""

from __future__ import annotations

import time
from pathlib import Path

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
