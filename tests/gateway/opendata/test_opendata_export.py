"""The daily open-data files' pure part (gateway/opendata/export): fill per
hour, presence through the privacy rule, the tables written to CSV and
GeoJSON and read back the same, and the Data Package that describes them,
checked by the Frictionless Data tools."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import frictionless
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from open_data_files import valid_geojson_points

from gateway.opendata.export.files import (
    BIN_FILL,
    BINS,
    BINS_GEOJSON,
    DATAPACKAGE,
    FILES,
    HOUR_S,
    PRESENCE,
    TABLES,
    BinPlace,
    DayFacts,
    NightEnergy,
    emptying_rows,
    fill_rows,
    intervals,
    make_files,
    only,
    presence_interval,
    presence_rows,
)
from gateway.opendata.export.tables import Column, Table, TableError
from gateway.privacy import ZoneInterval

DAY = date(2026, 3, 1)
START = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
END = START + 86400
HOURS = intervals(START, END, HOUR_S, END)

def test_the_hours_of_a_day_are_whole_clock_hours_over_by_then() -> None:
    assert len(HOURS) == 24 and HOURS[0] == (START, START + 3600)
    assert all(a % 3600 == 0 and b - a == 3600 for a, b in HOURS)
    half = intervals(START, END, HOUR_S, START + 5.5 * 3600)
    assert [b for _, b in half][-1] == START + 5 * 3600


@pytest.mark.parametrize("gateway_s", [900, 1800, 2700, 3600, 4500, 7200, 86400])
def test_presence_in_the_files_is_never_finer_than_an_hour_or_the_gateways_interval(
        gateway_s: int) -> None:
    got = presence_interval(gateway_s)
    assert got >= HOUR_S and got >= gateway_s
    assert got % gateway_s == 0 and got % 900 == 0


readings = st.lists(st.tuples(st.sampled_from(["B1", "B2", "B3"]),
                              st.floats(START - 7200, END + 7200),
                              st.one_of(st.none(), st.floats(-50, 250))), max_size=60)


@given(readings)
@example([("B2", START, 1.0), ("B2", START, 0.0)])
def test_fill_per_hour_is_the_last_and_mean_reading_of_the_hour_within_0_to_100(
        reports: list[tuple[str, float, float | None]]) -> None:
    rows = fill_rows(reports, HOURS)
    for row in rows:
        for k in ("fill_last_pct", "fill_mean_pct"):
            assert 0 <= row[k] <= 100  # type: ignore[operator]
        start = datetime.fromisoformat(str(row["hour_start"])).timestamp()
        assert start % 3600 == 0 and START <= start < END
        # Two readings of the same time: the one stored last (the store
        # hands them over in the order stored).
        got = sorted(((t, f) for b, t, f in reports
                      if b == row["bin_id"] and f is not None and start <= t < start + 3600),
                     key=lambda x: x[0])
        assert row["reports"] == len(got)
        assert row["fill_last_pct"] == round(min(100, max(0, got[-1][1])), 1)
    assert sum(int(r["reports"]) for r in rows) == sum(  # type: ignore[arg-type]
        1 for _, t, f in reports if f is not None and START <= t < END)


counts = st.lists(st.builds(ZoneInterval, st.sampled_from(["a", "b", "c"]),
                            st.sampled_from([a for a, _ in HOURS]), st.integers(0, 50),
                            st.integers(0, 80), st.integers(0, 40)),
                  max_size=40, unique_by=lambda c: (c.zone, c.start))


@given(counts, st.integers(2, 12))
def test_presence_never_shows_a_count_below_the_threshold_and_lists_every_zone_and_hour(
        got: list[ZoneInterval], min_count: int) -> None:
    rows = presence_rows(["a", "b", "c"], got, HOURS, min_count)
    assert len(rows) == 3 * 24
    people = {(c.zone, c.start): c.people for c in got}
    for row in rows:
        start = datetime.fromisoformat(str(row["start"])).timestamp()
        count = people.get((str(row["zone"]), int(start)), 0)
        if count < min_count:
            assert row["suppressed"] is True and row["people"] is None
        else:
            assert row["suppressed"] is False and row["people"] == count
        assert row["people"] is None or row["people"] >= min_count  # type: ignore[operator]
        assert set(row) == {"zone", "start", "end", "suppressed", "people"}


def test_an_empty_hour_and_a_lone_walkers_hour_read_the_same() -> None:
    walker = [ZoneInterval("street", HOURS[3][0], 10, 10, 1)]
    assert presence_rows(["street"], walker, HOURS, 5) == presence_rows(
        ["street"], [], HOURS, 5)


def test_emptyings_count_crews_records_and_the_bins_own_readings_apart() -> None:
    rows = emptying_rows(DAY, ["B1", "B2"], [("B1", "emptied"), ("B1", "emptied"),
                                             ("B2", "unreachable"), ("B9", "emptied")],
                         {"B2": 1})
    assert rows == [
        {"day": "2026-03-01", "bin_id": "B1", "emptied_recorded": 2, "emptied_detected": 0,
         "unreachable": 0},
        {"day": "2026-03-01", "bin_id": "B2", "emptied_recorded": 0, "emptied_detected": 1,
         "unreachable": 1},
        {"day": "2026-03-01", "bin_id": "B9", "emptied_recorded": 1, "emptied_detected": 0,
         "unreachable": 0}]


text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=20)
places = st.lists(st.fixed_dictionaries({
    "bin_id": st.text("ABC0123456789-", min_size=1, max_size=8), "type": text,
    "capacity_l": st.one_of(st.none(), st.floats(0, 10000, allow_nan=False)),
    "lat": st.floats(-90, 90), "lon": st.floats(-180, 180)}), max_size=20)


@given(places)
def test_bins_read_back_the_same_from_csv_and_from_geojson(rows: list[dict[str, object]]) -> None:
    # A text cell that is empty is a missing value in a CSV: the files
    # never write one for a known value.
    for r in rows:
        r["type"] = r["type"] or None
    assert BINS.read_csv(BINS.to_csv(rows)) == rows  # type: ignore[arg-type]
    doc = BINS.to_geojson(rows)  # type: ignore[arg-type]
    valid_geojson_points(doc)
    assert BINS.read_geojson(doc) == rows


def test_a_csv_that_is_not_the_table_is_refused_with_where() -> None:
    t = Table("t", "T", "", (Column("n", "integer", ""),), ("n",))
    with pytest.raises(TableError, match="header"):
        t.read_csv("m\r\n1\r\n")
    with pytest.raises(TableError, match="not a integer"):
        t.read_csv("n\r\nx\r\n")


def facts() -> DayFacts:
    return DayFacts(
        district="norrmalm", district_name="Norrmalm, Stockholm", day=DAY, start=START,
        end=END, made_until=END + 3600,
        bins=[BinPlace("B1", "240L", 240.0, 59.33, 18.06),
              BinPlace("B2", "big, \"odd\" type", None, 59.34, 18.07)],
        reports=[("B1", START + 600, 40.0), ("B1", START + 1200, 45.5),
                 ("B2", START + 7300, 101.0)],
        visits=[("B1", "emptied")], detected={"B1": 1},
        nights=[NightEnergy("street", DAY, START + 11 * 3600, END + 11 * 3600, True, 2, 2,
                            812.5, 1900.0)],
        zones=["street", "market"],
        presence=[ZoneInterval("market", int(START) + 3600 * 18, 30, 40, 12),
                  ZoneInterval("street", int(START) + 3600 * 2, 5, 5, 1)],
        credits=["© OpenStreetMap contributors, ODbL-1.0"])


def test_a_days_files_are_a_valid_data_package(tmp_path: Path) -> None:
    made = make_files(facts())
    assert set(made.files) == {*FILES, DATAPACKAGE}
    for name, body in made.files.items():
        (tmp_path / name).write_bytes(body)
    report = frictionless.validate(str(tmp_path / DATAPACKAGE))
    assert report.valid, report.flatten(["type", "note"])
    doc = json.loads(made.files[DATAPACKAGE])
    assert [r["path"] for r in doc["resources"]] == [
        "bins.csv", BINS_GEOJSON, "bin-fill.csv", "emptyings.csv", "lighting-energy.csv",
        "presence.csv"]
    assert [lic["name"] for lic in doc["licenses"]] == ["CC-BY-4.0", "ODbL-1.0"]
    assert any("openstreetmap.org" in s.get("path", "") for s in doc["sources"])
    # The data dictionary: every column with its type and description, and
    # its unit where it has one.
    for t in TABLES:
        schema = next(r for r in doc["resources"] if r["name"] == t.name)["schema"]
        assert [f["name"] for f in schema["fields"]] == [c.name for c in t.columns]
        assert all(f["type"] and f["description"] for f in schema["fields"])
    fill = {f["name"]: f for f in next(r for r in doc["resources"]
                                       if r["name"] == "bin-fill")["schema"]["fields"]}
    assert fill["fill_last_pct"]["unit"] == "%"
    valid_geojson_points(made.files[BINS_GEOJSON].decode())
    assert BINS.read_geojson(made.files[BINS_GEOJSON].decode()) == BINS.read_csv(
        made.files["bins.csv"].decode())
    fills = BIN_FILL.read_csv(made.files["bin-fill.csv"].decode())
    assert [(r["bin_id"], r["reports"], r["fill_last_pct"], r["fill_mean_pct"])
            for r in fills] == [("B1", 2, 45.5, 42.8), ("B2", 1, 100.0, 100.0)]
    presence = PRESENCE.read_csv(made.files["presence.csv"].decode())
    assert len(presence) == 48
    assert [r["people"] for r in presence if not r["suppressed"]] == [12]
    assert made.rows == {"bins": 2, "bin-fill": 2, "emptyings": 2, "lighting-energy": 1,
                         "presence": 48}


def test_a_package_for_one_reader_lists_only_what_it_may_read() -> None:
    doc = json.loads(make_files(facts()).files[DATAPACKAGE])
    assert [r["path"] for r in only(doc, ["presence.csv"])["resources"]] == ["presence.csv"]


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["CC-BY-4.0", "CC0-1.0", "ODbL-1.0", "EUPL-1.2"]))
def test_the_licence_is_the_citys_choice(spdx: str) -> None:
    f = facts()
    f.licence, f.credits = spdx, []
    doc = json.loads(make_files(f).files[DATAPACKAGE])
    assert [lic["name"] for lic in doc["licenses"]] == [spdx]
    assert doc["licenses"][0]["path"].startswith("https://")
