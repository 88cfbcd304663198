"""The district's daily open-data files end to end, against a real gateway:
bins report over CoAP, a crew records an emptying, poles report presence and
their energy counters, and then yesterday's files are made by `kvarter export
open-data` and fetched from GET /api/v1/open-data/{day}: the same files, a
valid Data Package (the Frictionless Data tools read it), valid GeoJSON,
what was posted in them, and presence only as counts that hold no one alone.
Who may fetch what, and the errors, as problems."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import frictionless
import httpx
import pytest
from api_support import Accounts, assert_problem, kvarter, make_accounts, post_report
from conftest import RunningGateway, launch_gateway
from lightkit import FakeLight
from open_data_files import valid_geojson_points

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.config import GatewayConfig, GatewayConfigError
from gateway.opendata.export.files import (
    BIN_FILL,
    BINS,
    DATAPACKAGE,
    EMPTYINGS,
    FILES,
    LIGHTING_ENERGY,
    PRESENCE,
)
from gateway.records import Node, StatusRecord
from gateway.storage.store import Store

YESTERDAY = date.today() - timedelta(days=1)
DAY = YESTERDAY.isoformat()
BINS_AT = [Node(f"B{i:04d}", "bin", 59.33, 18.06 + i * 0.001, "240L") for i in range(1, 4)]
POLES = [Node("L0001", "light", 59.331, 18.07, "gata"), Node("L0002", "light", 59.331, 18.071,
                                                            "gata"),
         Node("M0001", "light", 59.335, 18.08, "torg")]
OPEN_DATA = "/api/v1/open-data"


def at(hour: int, minute: int = 0) -> int:
    """A local time of yesterday, unix time."""
    return int(datetime.combine(YESTERDAY, datetime.min.time()).replace(
        hour=hour, minute=minute).astimezone().timestamp())


def hour_utc(hour: int) -> str:
    from datetime import UTC
    return datetime.fromtimestamp(at(hour), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bin_report(seq: int, t: int, fill: float) -> bytes:
    return codec.encode_bin_report(codec.BinReport(seq, t, fill, 21, 3600, 0, 0))


@dataclass
class District:
    gw: RunningGateway
    accounts: Accounts
    out: Path
    export: str  # what the command printed


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[District]:
    tmp = tmp_path_factory.mktemp("open-data-files")
    config = tmp / "gateway.toml"
    config.write_text('[gateway]\ndistrict = "kvarteret"\ndistrict_name = "Kvarteret"\n'
                      'open_data_licence = "CC0-1.0"\n')
    gw = launch_gateway(tmp, "--config", str(config), virtual_time=False)
    lights: list[FakeLight] = []
    try:
        gw.register(*BINS_AT, *POLES)
        # B0001 fills in the morning and is emptied at 11: its reading falls.
        for seq, (t, fill) in enumerate([(at(8, 10), 40.0), (at(8, 40), 50.0),
                                         (at(10, 5), 90.0), (at(11, 0), 5.0)], start=1):
            assert post_report(gw, b"b", "B0001", bin_report(seq, t, fill), mid=seq) == "2.04"
        assert post_report(gw, b"b", "B0002", bin_report(1, at(9, 30), 30.0), mid=9) == "2.04"
        # A crew empties B0002 at 14:20, as the crew's tool records it.
        proc = kvarter("bins", "emptied", "B0002", "--at", f"{DAY}T14:20", "--db", str(gw.db))
        assert proc.returncode == 0, proc.stderr
        # A lone walker passes both poles of gata at 21; six people cross
        # torg at 20.
        lights = [FakeLight(n.node_id, gw) for n in POLES]
        by_id = {f.node_id: f for f in lights}
        by_id["L0001"].presence(1, at=at(21, 3))
        by_id["L0002"].presence(2, at=at(21, 4))
        by_id["M0001"].presence(1, count=4, at=at(20, 10))
        by_id["M0001"].presence(2, count=2, at=at(20, 40))
        # The poles' energy counters through the evening.
        with Store(gw.db) as store:
            store.insert([StatusRecord(pid, light_codec.Status(
                i, t, 20, wh, light_codec.STATUS_NIGHT), t)
                for pid in ("L0001", "L0002", "M0001")
                for i, (t, wh) in enumerate([(at(17), 1000), (at(23), 1900)])])
        deadline = time.monotonic() + 20
        while True:
            with Store(gw.db) as store:
                if len(store.presence_between(at(0), at(23, 59))) == 4:
                    break
            assert time.monotonic() < deadline, "the presence events were not stored"
            time.sleep(0.2)
        accounts = make_accounts(gw)
        out = tmp / "files"
        proc = kvarter("export", "open-data", "--config", str(config), "--db", str(gw.db),
                       "--day", DAY, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        yield District(gw, accounts, out, proc.stdout)
        accounts.close()
    finally:
        for f in lights:
            f.close()
        gw.stop()


def read(district: District, name: str) -> str:
    return (district.out / name).read_text(encoding="utf-8")


def test_the_command_writes_a_valid_data_package_and_says_what_it_wrote(
        district: District) -> None:
    assert sorted(p.name for p in district.out.iterdir()) == sorted([*FILES, DATAPACKAGE])
    for name in FILES:
        assert name in district.export
    assert "3 rows (bins)" in district.export
    report = frictionless.validate(str(district.out / DATAPACKAGE))
    assert report.valid, report.flatten(["type", "note"])
    doc = json.loads(read(district, DATAPACKAGE))
    assert doc["licenses"][0]["name"] == "CC0-1.0"
    assert doc["kvarter:day"] == DAY and "Kvarteret" in doc["title"]


def test_the_files_hold_what_the_district_reported(district: District) -> None:
    bins = BINS.read_csv(read(district, "bins.csv"))
    assert [(b["bin_id"], b["type"], b["capacity_l"]) for b in bins] == [
        ("B0001", "240L", 240.0), ("B0002", "240L", 240.0), ("B0003", "240L", 240.0)]
    geo = json.loads(read(district, "bins.geojson"))
    assert geo["type"] == "FeatureCollection"
    for f in geo["features"]:
        assert f["geometry"]["type"] == "Point"
        lon, lat = f["geometry"]["coordinates"]
        assert (lat, lon) == (f["properties"]["lat"], f["properties"]["lon"])
    assert BINS.read_geojson(read(district, "bins.geojson")) == bins

    fill = {(r["bin_id"], r["hour_start"]): r
            for r in BIN_FILL.read_csv(read(district, "bin-fill.csv"))}
    assert (fill[("B0001", hour_utc(8))]["reports"], fill[("B0001", hour_utc(8))]
            ["fill_last_pct"], fill[("B0001", hour_utc(8))]["fill_mean_pct"]) == (2, 50.0, 45.0)
    assert fill[("B0001", hour_utc(11))]["fill_last_pct"] == 5.0
    assert ("B0003", hour_utc(8)) not in fill  # no report, no row

    emptied = {r["bin_id"]: r for r in EMPTYINGS.read_csv(read(district, "emptyings.csv"))}
    assert (emptied["B0001"]["emptied_detected"], emptied["B0001"]["emptied_recorded"]) == (1, 0)
    assert emptied["B0002"]["emptied_recorded"] == 1
    assert emptied["B0003"]["emptied_recorded"] == emptied["B0003"]["emptied_detected"] == 0

    energy = {r["zone"]: r for r in LIGHTING_ENERGY.read_csv(read(district,
                                                                  "lighting-energy.csv"))}
    assert set(energy) == {"gata", "torg"}
    assert energy["gata"]["night"] == DAY
    assert (energy["gata"]["poles"], energy["gata"]["poles_reporting"]) == (2, 2)
    assert energy["gata"]["measured_wh"] == 180.0  # two poles, 900 tenths of a Wh each
    assert "oracle_wh" not in read(district, "lighting-energy.csv")

    presence = PRESENCE.read_csv(read(district, "presence.csv"))
    assert len(presence) == 2 * len({r["start"] for r in presence}) >= 2 * 23
    shown = [(r["zone"], r["start"], r["people"]) for r in presence if not r["suppressed"]]
    assert shown == [("torg", hour_utc(20), 6)]
    assert all(r["people"] is None for r in presence if r["zone"] == "gata")


def test_the_api_serves_the_same_files_to_anyone_by_default(district: District) -> None:
    with httpx.Client(base_url=district.gw.http_url, timeout=60) as anyone:
        r = anyone.get(f"{OPEN_DATA}/{DAY}")
        assert r.status_code == 200, r.text
        doc = r.json()
        assert [x["path"] for x in doc["resources"]] == list(json.loads(
            read(district, DATAPACKAGE))["resources"][i]["path"] for i in range(len(FILES)))
        for name in FILES:
            got = anyone.get(f"{OPEN_DATA}/{DAY}/{name}")
            assert got.status_code == 200, (name, got.text)
            if name == "lighting-energy.csv":
                continue  # the night under way may have ended between the two
            assert got.content == (district.out / name).read_bytes(), name
        assert anyone.get(f"{OPEN_DATA}/{DAY}/bins.geojson").headers[
            "content-type"].startswith("application/geo+json")
        assert anyone.get(f"{OPEN_DATA}/{DAY}/presence.csv").headers[
            "content-type"].startswith("text/csv")
        assert anyone.get(f"{OPEN_DATA}/{DAY}/{DATAPACKAGE}").json() == doc


def test_bad_days_and_unknown_files_are_problems(district: District) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    with httpx.Client(base_url=district.gw.http_url, timeout=60) as anyone:
        assert "not begun" in assert_problem(anyone.get(f"{OPEN_DATA}/{tomorrow}"), 404)
        assert "calendar" in assert_problem(anyone.get(f"{OPEN_DATA}/2026-02-30"), 404)
        assert "2000" in assert_problem(anyone.get(f"{OPEN_DATA}/1999-12-31"), 404)
        assert_problem(anyone.get(f"{OPEN_DATA}/yesterday"), 422)
        assert_problem(anyone.get(f"{OPEN_DATA}/{DAY}/secrets.csv"), 404)
        # Taken as the day "bins.csv" (the client resolves the dots).
        assert_problem(anyone.get(f"{OPEN_DATA}/{DAY}/../bins.csv"), 422)


def test_the_command_refuses_bad_days_and_folders_in_one_line(district: District,
                                                               tmp_path: Path) -> None:
    db = str(district.gw.db)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    cases = [(["--day", tomorrow, "--out", str(tmp_path / "a")], "not begun"),
             (["--day", "2026-13-01", "--out", str(tmp_path / "a")], "calendar"),
             (["--day", "1.1.2026", "--out", str(tmp_path / "a")], "YYYY-MM-DD"),
             (["--day", DAY, "--out", str(district.out)], "holds files already"),
             (["--day", DAY, "--out", str(district.out / "bins.csv")], "not a folder")]
    for args, says in cases:
        proc = kvarter("export", "open-data", "--db", db, *args)
        assert proc.returncode == 1, (args, proc.stdout)
        line = proc.stderr.strip()
        assert says in line and "\n" not in line and "Traceback" not in line, (args, line)
    assert not (tmp_path / "a").exists()
    # --force writes into a folder with files, and yesterday is the default.
    proc = kvarter("export", "open-data", "--db", db, "--out", str(district.out), "--force")
    assert proc.returncode == 0, proc.stderr
    assert f"open data of {DAY}" in proc.stdout


def test_closed_datasets_need_an_account_whose_role_reads_them(
        tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\nopen_data_files = ["bins"]\n')
    gw = launch_gateway(tmp_path, "--config", str(config))
    try:
        gw.register(*BINS_AT[:1], *POLES[:1])
        acc = make_accounts(gw)
        with httpx.Client(base_url=gw.http_url, timeout=60) as anyone:
            doc = anyone.get(f"{OPEN_DATA}/{DAY}").json()
            assert {x["path"] for x in doc["resources"]} == {"bins.csv", "bins.geojson",
                                                             "bin-fill.csv"}
            assert anyone.get(f"{OPEN_DATA}/{DAY}/bins.csv").status_code == 200
            assert_problem(anyone.get(f"{OPEN_DATA}/{DAY}/presence.csv"), 401)
            assert_problem(anyone.get(f"{OPEN_DATA}/{DAY}/emptyings.csv"), 401)
        may = {"emptyings.csv": {"admin", "operator", "planner", "technician"},
               "lighting-energy.csv": {"admin", "operator"},
               "presence.csv": {"admin", "operator"}}
        for role, client in acc.tokens.items():
            listed = {x["path"] for x in client.get(f"{OPEN_DATA}/{DAY}").json()["resources"]}
            for name, roles in may.items():
                r = client.get(f"{OPEN_DATA}/{DAY}/{name}")
                if role in roles:
                    assert r.status_code == 200 and name in listed, (role, name, r.text)
                else:
                    assert role in assert_problem(r, 403) and name not in listed, (role, name)
        acc.close()
    finally:
        gw.stop()


def test_the_geojson_is_rfc_7946_points(district: District) -> None:
    valid_geojson_points(read(district, "bins.geojson"))


@pytest.mark.parametrize("setting, value, says", [
    ("open_data_files", ["bins", "people"], "open_data_files must be a list of"),
    ("open_data_files", "bins", "open_data_files must be a list of"),
    ("open_data_licence", "", "open_data_licence must be"),
    ("open_data_licence", "CC BY 4.0", "open_data_licence must be"),
    ("open_data_licence", 4, "open_data_licence must be"),
])
def test_the_open_data_settings_are_checked_when_the_gateway_starts(
        setting: str, value: object, says: str) -> None:
    with pytest.raises(GatewayConfigError, match=says):
        GatewayConfig(**{setting: value})


def test_the_datasets_follow_the_open_ngsi_ld_types_unless_named() -> None:
    assert GatewayConfig().open_datasets() == {"bins", "emptyings", "lighting-energy",
                                               "presence"}
    assert GatewayConfig(ngsi_open_types=["WasteContainer"]).open_datasets() == {
        "bins", "emptyings"}
    assert GatewayConfig(ngsi_open_types=[]).open_datasets() == set()
    assert GatewayConfig(ngsi_open_types=[], open_data_files=["presence"]
                         ).open_datasets() == {"presence"}
