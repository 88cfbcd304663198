"""`bins import` into a running gateway and `routes plan` from its database,
as an operator runs them; errors are one line, never a traceback.

The commands are run as their own process, as `kvarter bins|routes ...`."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import RunningGateway, one_line_error, technician_lines

from gateway.records import Node
from gateway.storage.store import Store

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "bins_sample.geojson"


def run(group: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", group, *args], capture_output=True,
                          text=True, timeout=120)


def test_import_registers_the_good_bins_and_prints_each_problem(
        gateway: RunningGateway, tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(technician_lines(gateway.db))
    site.chmod(0o600)
    proc = run("bins", "import", str(SAMPLE), "--prefix", "G",
               "--gateway", f"127.0.0.1:{gateway.port}", "--site", str(site))
    # Done in part: the features with problems are not registered.
    assert proc.returncode == 3, proc.stderr
    assert "7 feature(s)" in proc.stderr and "not registered" in proc.stderr
    lines = proc.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines[:7]] == [
        "feature 6", "feature 7", "feature 8", "feature 9", "feature 10", "feature 11",
        "feature 13"]
    assert lines[7].startswith("note: 1 bin(s) with PRODTYP 'Okodad'")
    assert lines[-1] == (f"13 features: 7 bins registered at 127.0.0.1:{gateway.port} "
                         "(7 new, 0 updated), 6 skipped, 7 problem(s)")
    store = Store(gateway.db)
    nodes = {n.node_id: n for n in store.nodes()}
    store.close()
    assert sorted(nodes) == ["G0001", "G0002", "G0003", "G0004", "G0005", "G0006", "G0012"]
    assert nodes["G0003"].kind == "Big Belly källsorteringskärl"

    # Plan from the gateway's own database while it runs (WAL lets us read).
    out = tmp_path / "plan"
    proc = run("routes", "plan", "--db", str(gateway.db), "--depot", "60.6749,17.1413",
               "--trucks", "2", "--capacity", "1000", "--shift", "2", "--out", str(out),
               "--time-limit", "0.5", "--date", "2026-09-21", "--all-required")
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout.splitlines()
    assert summary[0].startswith("truck-1") and summary[1].startswith("truck-2")
    assert summary[2].startswith("7 bins on ") and "0 required bin(s) not served" in summary[2]
    assert summary[-1].startswith("wrote ")
    doc = json.loads((out / "routes.geojson").read_text())
    stops = [f["properties"]["node_id"] for f in doc["features"]
             if f["properties"]["role"] == "stop"]
    assert sorted(stops) == sorted(nodes)
    gpx = ET.parse(out / "routes.gpx").getroot()
    assert len(gpx.findall("{http://www.topografix.com/GPX/1/1}rte/"
                           "{http://www.topografix.com/GPX/1/1}rtept")) == 7
    assert "Date 2026-09-21" in (out / "route-sheets.html").read_text()


def test_a_dry_run_registers_nothing() -> None:
    proc = run("bins", "import", str(SAMPLE), "--prefix", "T", "--dry-run",
               "--gateway", "127.0.0.1:9")  # nothing listens there; nothing is sent
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == ("13 features: 7 bins would be registered, "
                                            "6 skipped, 7 problem(s)")


def test_a_catalogue_file_and_a_bounding_box_apply(tmp_path: Path) -> None:
    types = tmp_path / "types.toml"
    types.write_text('[types."Mystery Bin 3000"]\nvolume_l = 90\n')
    proc = run("bins", "import", str(SAMPLE), "--prefix", "T", "--dry-run", "--types",
               str(types), "--bbox", "17.139,60.6,17.2,60.7")
    assert proc.returncode == 0, proc.stderr
    assert "Mystery" not in proc.stdout
    assert "feature 4: [17.138, 60.672] is outside the bounding box" in proc.stdout


@pytest.mark.parametrize("args, expect", [
    (["--bbox", "1,2,3"], "is not minlon,minlat,maxlon,maxlat"),
    (["--gateway", "localhost"], "is not HOST:PORT"),
    (["--prefix", "G/"], "prefix 'G/' cannot start node ids"),
])
def test_import_errors_are_one_line(args: list[str], expect: str) -> None:
    base = {"--prefix": "G", "--gateway": "127.0.0.1:9"}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    flat = [x for kv in base.items() for x in kv]
    assert expect in one_line_error(run("bins", "import", str(SAMPLE), *flat))


def test_import_of_a_file_without_bins_is_one_line_after_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "Feature"}')
    proc = run("bins", "import", str(bad), "--prefix", "G")
    assert "no bins to register" in one_line_error(proc)
    assert "not a GeoJSON FeatureCollection" in proc.stdout


def test_plan_errors_are_one_line(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    common = ["--capacity", "1000", "--out", out]
    missing = tmp_path / "none.sqlite"
    assert "no gateway data at" in one_line_error(
        run("routes", "plan", "--db", str(missing), "--depot", "60.67,17.14", *common))
    db = tmp_path / "gw.sqlite"
    store = Store(db)
    store.register(Node("L1", "light", 60.67, 17.14))
    store.close()
    assert "no bins registered" in one_line_error(
        run("routes", "plan", "--db", str(db), "--depot", "60.67,17.14", *common))
    assert "is not LAT,LON" in one_line_error(
        run("routes", "plan", "--db", str(db), "--depot", "somewhere", *common))
    assert "is it LON,LAT?" in one_line_error(
        run("routes", "plan", "--db", str(db), "--depot", "160.67,17.14", *common))
    bad_types = tmp_path / "t.toml"
    bad_types.write_text("[types\n")
    assert "not valid TOML" in one_line_error(
        run("routes", "plan", "--db", str(db), "--depot", "60.67,17.14", "--types",
            str(bad_types), *common))


def test_a_plan_that_does_not_fit_still_writes_and_names_the_bins_left_out(
        tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    store = Store(db)
    for i in range(6):
        store.register(Node(f"B{i}", "bin", 60.67 + i * 0.01, 17.14, "360L"))
    store.close()
    out = tmp_path / "out"
    proc = run("routes", "plan", "--db", str(db), "--depot", "60.67,17.14", "--capacity", "800",
               "--out", str(out), "--time-limit", "0.3")
    # Written, but not whole: a script must not take it for a plan of every bin.
    assert proc.returncode == 3, proc.stderr
    assert "4 required bin(s) left out" in proc.stderr
    assert "2 bins on 1 route(s), 4 required bin(s) not served" in proc.stdout
    assert "add a truck or use larger trucks" in proc.stdout
    assert (out / "route-sheets.html").exists()
