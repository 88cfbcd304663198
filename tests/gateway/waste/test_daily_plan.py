"""Today's plan from what the bins reported: the forecast picks the bins, crews'
records change the next plan, and each crew's route reaches MQTT."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from conftest import one_line_error
from paho.mqtt.enums import CallbackAPIVersion

from firmware import codec
from gateway.records import BinRecord, Node
from gateway.storage.store import Store

DAY = "2026-09-23"  # a Wednesday: the two days of history are weekdays too
SHIFT = datetime.fromisoformat(f"{DAY}T06:00").astimezone().timestamp()


def kvarter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=120)


def district_db(tmp_path: Path) -> Path:
    """Three bins with two days of hourly reports before the shift: one filling
    fast and nearly full, one filling slowly, and one that never reported."""
    db = tmp_path / "gateway.sqlite"
    store = Store(db)
    for node_id, lat in (("FAST", 60.670), ("SLOW", 60.672), ("SILENT", 60.674)):
        store.register(Node(node_id, "bin", lat, 17.14, "240L"))
    records = []
    for h in range(48):
        t = SHIFT - (48 - h) * 3600
        records.append(BinRecord("FAST", codec.BinReport(h, int(t), 20 + 1.5 * h), t))
        records.append(BinRecord("SLOW", codec.BinReport(h, int(t), 5 + 0.1 * h), t))
    store.insert(records)
    store.close()
    return db


def planned(out: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((out / "routes.geojson").read_text())
    return {f["properties"]["node_id"]: f["properties"] for f in doc["features"]
            if f["properties"]["role"] == "stop"}


def plan(db: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return kvarter("routes", "plan", "--db", str(db), "--depot", "60.67,17.14",
                   "--capacity", "5000", "--out", str(out), "--time-limit", "0.3",
                   "--date", DAY, *extra)


def test_the_forecast_picks_the_bins_for_today(tmp_path: Path) -> None:
    db = district_db(tmp_path)
    proc = plan(db, tmp_path / "plan")
    assert proc.returncode == 0, proc.stderr
    stops = planned(tmp_path / "plan")
    assert set(stops) == {"FAST", "SILENT"}  # SLOW can wait; SILENT is unknown
    assert stops["FAST"]["expected_fill_pct"] == 100.0
    shown = kvarter("routes", "show", "--out", str(tmp_path / "plan"))
    assert "FAST" in shown.stdout and "route-sheets.html" in shown.stdout
    every = plan(db, tmp_path / "all", "--every-bin")
    assert set(planned(tmp_path / "all")) == {"FAST", "SLOW", "SILENT"}, every.stderr


def test_a_bin_recorded_as_emptied_drops_off_the_replan(tmp_path: Path) -> None:
    db = district_db(tmp_path)
    at = datetime.fromtimestamp(SHIFT + 3600).isoformat(timespec="minutes")
    done = kvarter("bins", "emptied", "FAST", "--db", str(db), "--at", at)
    assert done.returncode == 0 and "FAST: emptied" in done.stdout
    blocked = kvarter("bins", "unreachable", "SILENT", "--db", str(db), "--note", "parked car")
    assert blocked.returncode == 0
    assert plan(db, tmp_path / "replan", "--start", "12:00").returncode == 0
    assert set(planned(tmp_path / "replan")) == {"SILENT"}
    store = Store(db)
    assert [(n, o, note) for n, _, o, note in store.visits()] == [
        ("FAST", "emptied", ""), ("SILENT", "unreachable", "parked car")]
    store.close()


def test_crew_records_for_unknown_bins_and_bad_times_are_one_line(tmp_path: Path) -> None:
    db = district_db(tmp_path)
    for args, expect in ((["bins", "emptied", "NOPE", "--db", str(db)], "no bin 'NOPE'"),
                         (["bins", "emptied", "FAST", "--db", str(db), "--at", "noonish"],
                          "--at 'noonish'"),
                         (["routes", "show", "--out", str(tmp_path / "none")], "no plan in")):
        assert expect in one_line_error(kvarter(*args))


def test_each_crew_gets_its_route_over_mqtt_even_when_it_connects_later(
        tmp_path: Path, mosquitto: int) -> None:
    db = district_db(tmp_path)
    proc = plan(db, tmp_path / "plan", "--mqtt", "127.0.0.1", "--mqtt-port", str(mosquitto))
    assert proc.returncode == 0, proc.stderr
    assert "published 1 route(s)" in proc.stdout
    # The crew's tablet connects after the plan was made: the route is retained.
    inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="crew-tablet")
    client.on_message = lambda c, u, msg: inbox.put(msg)
    client.on_connect = lambda c, *a: c.subscribe("kvarter/+/crew/#", qos=1)
    client.connect("127.0.0.1", mosquitto)
    client.loop_start()
    try:
        msg = inbox.get(timeout=10)
    finally:
        client.loop_stop()
        client.disconnect()
    assert msg.topic.endswith("/crew/truck-1/route") and msg.retain
    body = json.loads(msg.payload)
    assert {s[0] for s in body["stops"]} == {"FAST", "SILENT"}
    assert body["date"] == DAY


def test_unreachable_broker_still_leaves_the_route_files(tmp_path: Path) -> None:
    db = district_db(tmp_path)
    proc = plan(db, tmp_path / "plan", "--mqtt", "127.0.0.1", "--mqtt-port", "9")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "route files are written" in proc.stderr
    assert (tmp_path / "plan" / "route-sheets.html").exists()


def test_bin_status_lists_the_soonest_full_first(tmp_path: Path) -> None:
    db = district_db(tmp_path)
    out = kvarter("bins", "status", "--db", str(db))
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["FAST", "SLOW", "SILENT"]
    assert "never" in rows[2] and "unknown" in rows[2]


def test_a_crew_records_several_bins_in_one_command(tmp_path: Path) -> None:
    db = district_db(tmp_path)
    proc = kvarter("bins", "emptied", "FAST", "SLOW", "FAST", "NOPE", "--db", str(db))
    # Done in part: the bad id is named in one line, the good ones recorded once each.
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == [
        f"Error: no bin 'NOPE' in {db}: check the id on the route sheet; not recorded"]
    assert [ln.split(":")[0] for ln in proc.stdout.splitlines()] == ["FAST", "SLOW"]
    store = Store(db)
    assert sorted(n for n, _, o, _ in store.visits()) == ["FAST", "SLOW"]
    store.close()
    proc = kvarter("bins", "emptied", "NOPE", "ALSO-NOPE", "--db", str(db))
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 2


def test_a_time_of_day_means_today_and_the_future_is_refused(tmp_path: Path) -> None:
    db = district_db(tmp_path)
    now = datetime.now().astimezone()
    # An hour ago, today (or midnight, just after it).
    earlier = now - timedelta(hours=1) if now.hour >= 1 else now.replace(hour=0, minute=0)
    hhmm = earlier.strftime("%H:%M")
    proc = kvarter("bins", "emptied", "FAST", "--db", str(db), "--at", hhmm)
    assert proc.returncode == 0, proc.stderr
    store = Store(db)
    (_, at, _, _), = store.visits()
    store.close()
    recorded = datetime.fromtimestamp(at).astimezone()
    assert (recorded.date(), recorded.strftime("%H:%M")) == (now.date(), hhmm)
    tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    later = (now + timedelta(hours=2)).strftime("%H:%M") if now.hour < 22 else tomorrow
    for when in (tomorrow, later):
        assert "in the future" in one_line_error(
            kvarter("bins", "unreachable", "SLOW", "--db", str(db), "--at", when))
    store = Store(db)
    assert len(store.visits()) == 1
    store.close()


def test_an_unreachable_note_is_on_the_next_sheet(tmp_path: Path) -> None:
    db = district_db(tmp_path)
    blocked = kvarter("bins", "unreachable", "SILENT", "--db", str(db), "--note",
                      "blocked by a skip")
    assert blocked.returncode == 0, blocked.stderr
    assert plan(db, tmp_path / "next").returncode == 0
    stops = planned(tmp_path / "next")
    assert str(stops["SILENT"]["note"]).startswith("unreachable ")
    assert str(stops["SILENT"]["note"]).endswith(": blocked by a skip")
    assert stops["FAST"]["note"] == ""
    sheet = (tmp_path / "next" / "route-sheets.html").read_text()
    assert "blocked by a skip" in sheet
