"""The user's path: import the district's streets, plan, and see at every
stop a place the crew can find, on the sheet, in the GPX and GeoJSON, in
what the crew's phone reads."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from conftest import one_line_error

from gateway.records import Node
from gateway.storage.store import Store

DATA = Path(__file__).resolve().parents[3] / "data" / "norrmalm"
DAY = "2026-09-23"


def kvarter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=300)


def baskets_db(tmp_path: Path) -> Path:
    db = tmp_path / "gateway.sqlite"
    doc = json.loads((DATA / "waste-baskets.geojson").read_text())
    with Store(db) as store:
        for i, f in enumerate(doc["features"], start=1):
            lon, lat = f["geometry"]["coordinates"]
            store.register(Node(f"N{i:04d}", "bin", lat, lon, "240L"))
    return db


def plan(db: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return kvarter("routes", "plan", "--db", str(db), "--depot", "59.3405,18.0700",
                   "--capacity", "5000", "--trucks", "2", "--every-bin", "--out", str(out),
                   "--time-limit", "0.5", "--date", DAY)


def test_streets_imported_then_routes_along_them_with_places(tmp_path: Path) -> None:
    db = baskets_db(tmp_path)
    before = plan(db, tmp_path / "before")
    assert before.returncode == 0, before.stderr
    assert "distances as straight lines" in before.stdout

    imported = kvarter("streets", "import", str(DATA / "streets.geojson"), "--db", str(db))
    assert imported.returncode == 0, imported.stderr
    assert "856 streets" in imported.stdout and "one-way" in imported.stdout
    assert "stored as streets 1" in imported.stdout

    after = plan(db, tmp_path / "after")
    assert after.returncode == 0, after.stderr
    assert "distances along the streets" in after.stdout
    # The one basket out of reach of the roads is named, in one line.
    off = [ln for ln in after.stdout.splitlines() if "straight lines" in ln]
    assert len(off) == 1 and "N0006" in off[0]

    shown = kvarter("routes", "show", "--out", str(tmp_path / "after"))
    assert "Sveavägen, at Kammakargatan" in shown.stdout
    doc = json.loads((tmp_path / "after" / "routes.geojson").read_text())
    stops = {f["properties"]["node_id"]: f["properties"] for f in doc["features"]
             if f["properties"]["role"] == "stop"}
    assert len(stops) == 30 and all(p["address"] for p in stops.values())
    assert stops["N0027"]["address"] == "Sveavägen, at Kammakargatan"
    gpx = (tmp_path / "after" / "routes.gpx").read_text()
    assert "Sveavägen, at Kammakargatan" in gpx
    sheet = (tmp_path / "after" / "route-sheets.html").read_text()
    assert "Holländargatan, 20 m from Kungsgatan" in sheet
    # The sheet's maps draw the imported streets (none before the import).
    assert 'class="street"' in sheet
    assert 'class="street"' not in (tmp_path / "before" / "route-sheets.html").read_text()
    # The gateway has no name for the district (its default settings, a
    # streets file that names nothing): the title names none.
    assert "<title>Bin routes 2026-09-23</title>" in sheet
    # What the crew's phone reads (GET /api/v1/routes/...): the stored stop.
    with Store(db) as store:
        latest = store.latest_plan(DAY)
        assert latest is not None
        kept_stops = store.plan_stops(latest.id)
        kept = {s.node_id: s.street for s in kept_stops}
    assert kept["N0027"] == "Sveavägen, at Kammakargatan"
    # The sheet's time at each stop is the stored plan's, to the minute.
    times = re.findall(r'<td class="t">([^<]*)</td>', sheet)
    by_truck = sorted(kept_stops, key=lambda s: (s.truck, s.position))
    assert times == [datetime.fromtimestamp(s.expected_at).strftime("%H:%M") for s in by_truck]


def test_the_sheet_names_the_district(tmp_path: Path) -> None:
    db = baskets_db(tmp_path)
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\ndistrict = "norrmalm"\n'
                      'district_name = "Östra Norrmalm, Stockholm"\n')
    shown = kvarter("routes", "plan", "--db", str(db), "--config", str(config),
                    "--depot", "59.3405,18.0700", "--capacity", "5000", "--trucks", "2",
                    "--every-bin", "--out", str(tmp_path / "a"), "--time-limit", "0.5",
                    "--date", DAY)
    assert shown.returncode == 0, shown.stderr
    sheet = (tmp_path / "a" / "route-sheets.html").read_text()
    assert "<title>Bin routes 2026-09-23 · Östra Norrmalm, Stockholm</title>" in sheet
    given = kvarter("routes", "plan", "--db", str(db), "--config", str(config),
                    "--district-name", "Norrmalm east", "--depot", "59.3405,18.0700",
                    "--capacity", "5000", "--trucks", "2", "--every-bin",
                    "--out", str(tmp_path / "b"),
                    "--time-limit", "0.5", "--date", DAY)
    assert given.returncode == 0, given.stderr
    assert "· Norrmalm east</title>" in (tmp_path / "b" / "route-sheets.html").read_text()
    bad = kvarter("routes", "plan", "--db", str(db), "--district-name", "two\nlines",
                  "--depot", "59.3405,18.0700", "--capacity", "5000",
                  "--out", str(tmp_path / "c"), "--date", DAY)
    assert bad.returncode != 0
    assert one_line_error(bad).startswith("Error: --district-name 'two\\nlines'")
    assert not (tmp_path / "c").exists()


def test_a_streets_file_that_cannot_be_used_is_refused_in_one_line(tmp_path: Path) -> None:
    db = baskets_db(tmp_path)
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                   '"geometry": {"type": "Point", "coordinates": [18, 59]}}]}')
    line = one_line_error(kvarter("streets", "import", str(bad), "--db", str(db)))
    assert "no usable LineString streets" in line
    with Store(db) as store:
        assert store.streets() is None
    dry = kvarter("streets", "import", str(DATA / "streets.geojson"), "--db", str(db),
                  "--dry-run")
    assert dry.returncode == 0 and "nothing stored" in dry.stdout
    with Store(db) as store:
        assert store.streets() is None


def test_one_import_places_the_poles_and_the_older_name_does_the_same(tmp_path: Path) -> None:
    db = tmp_path / "gateway.sqlite"
    # Three poles inside Sveavägen's longest piece in the file (its ends are
    # other pieces' too), registered out of order.
    doc = json.loads((DATA / "streets.geojson").read_text())
    line = max((f["geometry"]["coordinates"] for f in doc["features"]
                if f["properties"].get("name") == "Sveavägen"
                and f["geometry"]["type"] == "LineString"), key=len)
    n = len(line)
    assert n >= 5
    points = {"L1": line[n // 4], "L2": line[n // 2], "L3": line[3 * n // 4]}
    with Store(db) as store:
        for node_id in ("L2", "L1", "L3"):
            lon, lat = points[node_id]
            store.register(Node(node_id, "light", lat, lon, "sveavagen"))
    streets = str(DATA / "streets.geojson")
    one = kvarter("streets", "import", streets, "--db", str(db), "--dry-run")
    assert one.returncode == 0, one.stderr
    assert "placed 3 of 3 light poles" in one.stdout
    # The poles in the order a walker meets them along their street.
    assert re.search(r"^  Sveavägen.*: (L1 L2 L3|L3 L2 L1)$", one.stdout, re.M), one.stdout
    older = kvarter("lights", "streets", "import", streets, "--db", str(db), "--dry-run")
    assert older.returncode == 0, older.stderr
    assert older.stdout == one.stdout
