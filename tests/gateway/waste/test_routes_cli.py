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

from gateway.records import KindSpec, Node
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
    assert "6 feature(s)" in proc.stderr and "not registered" in proc.stderr
    lines = proc.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines[:6]] == [
        "feature 7", "feature 8", "feature 9", "feature 10", "feature 11", "feature 13"]
    assert lines[6].startswith("note: 1 bin(s) with PRODTYP 'Okodad'")
    # An unknown type: one line for the type, not one per bin.
    assert [ln for ln in lines if "Mystery Bin 3000" in ln] == [
        "note: type 'Mystery Bin 3000' (1 bin(s)) is not in the bin catalogue: planned as "
        "'generic' (80 L) until it is: add [types.\"Mystery Bin 3000\"] with its volume_l to a "
        "catalogue file and import again with --types"]
    assert lines[-1] == (f"13 features: 7 bins registered at 127.0.0.1:{gateway.port} "
                         "(7 new, 0 updated), 6 skipped, 6 problem(s)")
    store = Store(gateway.db)
    nodes = {n.node_id: n for n in store.nodes()}
    specs = store.kind_specs()
    store.close()
    assert sorted(nodes) == ["G0001", "G0002", "G0003", "G0004", "G0005", "G0006", "G0012"]
    assert nodes["G0003"].kind == "Big Belly källsorteringskärl"
    assert nodes["G0006"].kind == "Mystery Bin 3000"
    # The gateway keeps what each known kind holds and takes to empty.
    assert specs["Big Belly källsorteringskärl"] == KindSpec(120, True, 150)
    assert "Mystery Bin 3000" not in specs

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
    # Planning names the unknown type once too.
    assert [ln for ln in summary if "Mystery Bin 3000" in ln] == [
        "type 'Mystery Bin 3000' (1 bin(s)) is not in the bin catalogue: planned as 'generic' "
        "(80 L): give its volume_l in a catalogue file (--types), here or at import"]
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
                                            "6 skipped, 6 problem(s)")


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
    assert "capacity is the limit" in proc.stdout
    assert "about 3 trucks would do (--trucks 3)" in proc.stdout
    assert (out / "route-sheets.html").exists()


def test_the_catalogue_given_at_import_is_the_one_planning_uses(
        gateway: RunningGateway, tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(technician_lines(gateway.db))
    site.chmod(0o600)
    types = tmp_path / "types.toml"
    types.write_text('[types."Mystery Bin 3000"]\nvolume_l = 300\nservice_s = 200\n')
    proc = run("bins", "import", str(SAMPLE), "--prefix", "G", "--types", str(types),
               "--gateway", f"127.0.0.1:{gateway.port}", "--site", str(site))
    assert proc.returncode == 3, proc.stderr  # the sample's broken features
    assert "Mystery" not in proc.stdout
    out = tmp_path / "plan"
    proc = run("routes", "plan", "--db", str(gateway.db), "--depot", "60.6749,17.1413",
               "--capacity", "5000", "--out", str(out), "--time-limit", "0.5",
               "--every-bin")  # no --types: the gateway has it
    assert proc.returncode == 0, proc.stderr
    assert "not in the bin catalogue" not in proc.stdout
    doc = json.loads((out / "routes.geojson").read_text())
    props = {f["properties"]["node_id"]: f["properties"] for f in doc["features"]
             if f["properties"]["role"] == "stop"}
    assert (props["G0006"]["litres"], props["G0006"]["service_s"]) == (300, 200)


def test_a_file_in_a_national_grid_imports_with_its_property_names(tmp_path: Path) -> None:
    # RD New (EPSG:28992), as a Dutch city exports it, with its own names.
    from pyproj import Transformer
    to_rd = Transformer.from_crs("EPSG:4326", "EPSG:28992", always_xy=True)
    features = []
    for i, (lon, lat) in enumerate([(5.1214, 52.0907), (5.1230, 52.0915), (5.1190, 52.0899)]):
        x, y = to_rd.transform(lon, lat)
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                         "properties": {"SOORT": "Byarum", "ADRES": f"Oudegracht {10 + i}",
                                        "NUMMER": f"A-{100 + i}"}})
    doc = {"type": "FeatureCollection", "features": features,
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}}}
    city = tmp_path / "afvalbakken.geojson"
    city.write_text(json.dumps(doc))
    proc = run("bins", "import", str(city), "--prefix", "U", "--dry-run", "--type-property",
               "SOORT", "--address-property", "ADRES", "--id-property", "NUMMER")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "note: positions converted from urn:ogc:def:crs:EPSG::28992 to WGS84",
        "3 features: 3 bins would be registered, 0 skipped, 0 problem(s)"]
    # Without the declaration: one line naming the grid, and nothing registered.
    del doc["crs"]
    city.write_text(json.dumps(doc))
    proc = run("bins", "import", str(city), "--prefix", "U", "--dry-run")
    assert proc.stdout.splitlines()[0] == (
        "3 of 3 positions are not longitude/latitude in degrees: they look like RD New, the "
        "Dutch national grid (EPSG:28992): give --crs EPSG:28992 (or a \"crs\" member in the "
        "file), or export the file as WGS84 (EPSG:4326)")
    assert "no bins to register" in one_line_error(proc)
    proc = run("bins", "import", str(city), "--prefix", "U", "--dry-run", "--crs", "EPSG:28992")
    assert proc.returncode == 0, proc.stderr
    assert "EPSG:nope" in one_line_error(
        run("bins", "import", str(city), "--prefix", "U", "--dry-run", "--crs", "EPSG:nope"))


@pytest.mark.parametrize(("depot", "expect"), [
    ("60.71,17.14", None),
    ("17.14,60.71", "depot 17.14,60.71 looks swapped"),
    ("48.85,2.35", "depot 48.85,2.35 is 1,"),
])
def test_a_depot_far_from_every_bin_is_refused_in_one_line(tmp_path: Path, depot: str,
                                                           expect: str | None) -> None:
    db = tmp_path / "gw.sqlite"
    store = Store(db)
    for i in range(40):
        store.register(Node(f"B{i:02d}", "bin", 60.67 + i * 0.002, 17.14, "140L"))
    store.close()
    proc = run("routes", "plan", "--db", str(db), "--depot", depot, "--capacity", "100000",
               "--out", str(tmp_path / "out"), "--time-limit", "0.3", "--every-bin")
    if expect is None:
        assert proc.returncode == 0, proc.stderr
        return
    assert expect in one_line_error(proc)
    assert not (tmp_path / "out").exists()  # refused before any planning


def test_a_plan_too_long_for_the_shift_says_so_and_how_many_trucks_would_do(
        tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    store = Store(db)
    for i in range(30):
        store.register(Node(f"B{i:02d}", "bin", 60.67 + (i % 6) * 0.003,
                            17.14 + (i // 6) * 0.006, "360L"))
    store.close()
    proc = run("routes", "plan", "--db", str(db), "--depot", "60.67,17.14", "--capacity",
               "100000", "--shift", "0.5", "--out", str(tmp_path / "out"), "--time-limit",
               "0.5", "--every-bin")
    assert proc.returncode == 3, proc.stderr
    assert "required bin(s) left out of the plan" in proc.stderr
    summary = [ln for ln in proc.stdout.splitlines() if "cannot all be served" in ln]
    assert len(summary) == 1 and "the shift is the limit" in summary[0]
    assert "trucks would do (--trucks " in summary[0]
