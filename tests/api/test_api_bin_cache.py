"""What the API keeps of each bin between requests (gateway/api/bin_cache.py)
says what working it all out again would: each bin's forecast learnt alone
equals the district's forecast learnt at once, a bin is learnt again when it
reports or a crew records it (over CoAP, the API, or the command line), and
the alarms follow each new report, registration and acknowledgement. On a
real SQLite database, and over real HTTP against a real gateway."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import Accounts, kvarter, make_accounts, post_report
from conftest import launch_gateway

from firmware import codec
from gateway.api.bin_cache import BinForecasts, BinStates
from gateway.records import BinRecord, Node
from gateway.storage.store import Store
from gateway.waste.planning import DEFAULT_PLAN
from gateway.waste.today import forecast_from

NOW = time.time()


def _district(db: Path, bins: int, seed: int) -> Store:
    """Bins with a week of irregular reports (emptyings among them), some
    crews' records, and a reading dated ahead of the clock."""
    rng = random.Random(seed)
    store = Store(db)
    for i in range(bins):
        store.register(Node(f"B{i:03d}", "bin", 59.3 + i * 1e-3, 18.0, "240L"))
    rows = []
    for i in range(bins):
        level, t = rng.uniform(0, 40), NOW - 7 * 86400
        for seq in range(rng.randint(0, 60)):
            t += rng.uniform(600, 6 * 3600)
            if t > NOW - 600:
                break
            level = rng.uniform(0, 10) if level > 85 else level + rng.uniform(-1, 9)
            rows.append((f"B{i:03d}", seq, int(t), t, round(level, 1)))
    rows.append(("B001", 999, int(NOW + 86400), NOW, 99.0))
    rng.shuffle(rows)  # stored in no order: late reports among them
    for node_id, seq, measured, received, fill in rows:
        _store(store, node_id, codec.BinReport(seq, measured, fill, 12, 3600, 0, 0), received)
    for i in range(0, bins, 3):
        store.record_visit(f"B{i:03d}", NOW - rng.uniform(0, 5 * 86400), "emptied")
    return store


def _store(store: Store, node_id: str, report: codec.BinReport, received: float) -> None:
    assert store.insert([BinRecord(node_id, report, received)]) == [True]


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return (a is None or math.isnan(a)) == (b is None or math.isnan(b))
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_bin_learnt_alone_is_forecast_as_the_district_learnt_at_once(
        tmp_path: Path, seed: int) -> None:
    with _district(tmp_path / "g.sqlite", 40, seed) as store:
        whole = forecast_from(store, NOW)
        kept = BinForecasts(clock=lambda: NOW)
        ids = [n.node_id for n in store.nodes()]
        f = kept.get(store, ids)
        for n in ids:
            assert _same(kept.full_at(n),
                         whole.crossing_time(n, DEFAULT_PLAN.must_level_pct)), n
            for ahead in (0, 3600, 86400):
                assert _same(f.level_at(n, NOW + ahead), whole.level_at(n, NOW + ahead)), n
        assert kept.learnt == len(ids)
        # Asked again with nothing new: nothing is learnt again.
        kept.get(store, ids)
        assert kept.learnt == len(ids)
        # Learnt ahead of the requests (as the API does when it starts): the
        # same, and the requests learn nothing more.
        warmed = BinForecasts(clock=lambda: NOW)
        assert warmed.warm(store, threading.Event()) == len(ids)
        f = warmed.get(store, ids)
        assert warmed.learnt == len(ids)
        for n in ids:
            assert _same(warmed.full_at(n), kept.full_at(n)), n
            assert _same(f.level_at(n, NOW + 86400), whole.level_at(n, NOW + 86400)), n


def test_a_bin_is_learnt_again_when_it_reports_or_is_emptied_and_only_then(
        tmp_path: Path) -> None:
    with _district(tmp_path / "g.sqlite", 10, 4) as store:
        clock = [NOW]
        kept = BinForecasts(clock=lambda: clock[0])
        ids = [n.node_id for n in store.nodes()]
        kept.get(store, ids)
        learnt = kept.learnt
        _store(store, "B004", codec.BinReport(500, int(NOW), 98.0, 12, 3600, 0, 0), NOW)
        f = kept.get(store, ids)
        assert kept.learnt == learnt + 1
        assert kept.full_at("B004") is not None and kept.full_at("B004") <= NOW
        assert f.level_at("B004", NOW) >= 98.0
        store.record_visit("B004", NOW + 1, "emptied")
        f = kept.get(store, ids)
        assert kept.learnt == learnt + 2 and f.level_at("B004", NOW + 1) < 98.0
        # The reading dated a day ahead is learnt from once it has come due.
        clock[0] = NOW + 86400 + 120
        kept.get(store, ids)
        whole = forecast_from(store, clock[0])
        assert _same(kept.full_at("B001"),
                     whole.crossing_time("B001", DEFAULT_PLAN.must_level_pct))


def test_the_alarms_kept_follow_reports_registrations_and_acknowledgements(
        tmp_path: Path) -> None:
    with Store(tmp_path / "g.sqlite") as store:
        store.register(Node("B1", "bin", 59.3, 18.0, "240L"),)
        store.register(Node("B2", "bin", 59.3, 18.1, "240L"))
        clock = [NOW]
        states = BinStates(clock=lambda: clock[0])

        def seen() -> list[tuple[str, str, bool]]:
            return [(a.node_id, a.alarm, a.ack is not None) for a in states.alarms(store)]

        assert seen() == [("B1", "offline", False), ("B2", "offline", False)]
        _store(store, "B1", codec.BinReport(1, int(NOW), 40, 12, 3600, 0,
                                                     codec.BIN_FLAG_TILT), NOW)
        assert seen() == [("B1", "tilt", False), ("B2", "offline", False)]
        store.acknowledge("B1", "tilt", "operator")
        assert seen() == [("B1", "tilt", True), ("B2", "offline", False)]
        # An older report arriving late changes nothing: the latest stands.
        _store(store, "B1", codec.BinReport(0, int(NOW - 60), 30, 12, 3000, 0, 0), NOW)
        assert seen() == [("B1", "tilt", True), ("B2", "offline", False)]
        _store(store, "B1", codec.BinReport(2, int(NOW + 60), 41, 12, 3200, 0, 0),
                               NOW + 60)
        assert seen() == [("B1", "low-battery", False), ("B2", "offline", False)]
        # A bin registered after its neighbours' reports were read.
        store.register(Node("B3", "bin", 59.3, 18.2, "240L"))
        _store(store, "B3", codec.BinReport(1, int(NOW), 10, 12, 3600, 0,
                                                     codec.BIN_FLAG_FIRE), NOW)
        assert seen() == [("B3", "fire", False), ("B1", "low-battery", False),
                          ("B2", "offline", False)]
        # Silence: offline by the clock alone, since the last contact.
        clock[0] = NOW + 2 * 86400
        alarms = states.alarms(store)
        assert [(a.node_id, a.alarm) for a in alarms if a.alarm == "offline"] == [
            ("B1", "offline"), ("B2", "offline"), ("B3", "offline")]
        assert next(a for a in alarms if a.node_id == "B1" and a.alarm == "offline"
                    ).since == NOW + 60


# --- over HTTP ----------------------------------------------------------------

@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accounts]:
    gw = launch_gateway(tmp_path_factory.mktemp("bincache"))
    try:
        gw.register(Node("B0001", "bin", 59.33, 18.06, "240L"),
                    Node("B0002", "bin", 59.33, 18.07, "240L"))
        acc = make_accounts(gw)
        yield acc
        acc.close()
    finally:
        gw.stop()


def _report(seq: int, fill: float, at: float) -> bytes:
    return codec.encode_bin_report(codec.BinReport(seq, int(at), fill, 21, 3600, 0, 0))


def test_a_bins_forecast_follows_its_reports_and_a_crews_record_from_the_command_line(
        district: Accounts) -> None:
    gw, planner = district.gw, district.tokens["planner"]
    start = time.time() - 14 * 3600
    for seq in range(1, 7):
        assert post_report(gw, b"b", "B0001", _report(seq, 10.0 * seq, start + seq * 7200),
                           mid=seq) == "2.04"
    before = planner.get("/api/v1/bins/B0001").json()
    assert before["fill_pct"] == 60.0 and before["forecast"]["full_at"] is not None
    # It fills fast: the next report brings "full by" forward.
    assert post_report(gw, b"b", "B0001", _report(7, 79.0, time.time() - 60), mid=7) == "2.04"
    page = planner.get("/api/v1/bins", params={"limit": 1}).json()
    (b,) = page["items"]
    assert b["fill_pct"] == 79.0
    assert b["forecast"]["full_at"] < before["forecast"]["full_at"]
    assert b["forecast"]["full_within_24h"] is True
    # Emptied, as a crew tells the command line: not full tomorrow any more.
    proc = kvarter("bins", "emptied", "B0001", "--db", str(gw.db))
    assert proc.returncode == 0, proc.stderr
    after = planner.get("/api/v1/bins/B0001").json()
    assert after["forecast"]["level_in_24h_pct"] < b["forecast"]["level_in_24h_pct"] - 50
    assert after["forecast"]["full_at"] > b["forecast"]["full_at"]
