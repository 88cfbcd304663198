"""`kvarter export open-data` as people and their scripts use it: the
database chosen as every command chooses it, the files it wrote and their
rows printed, and each bad input refused in one line with exit status 1,
nothing written."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from conftest import one_line_error
from test_cli_consistency import district_db, kvarter, ok

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()


def test_kvarter_db_is_the_exports_database_and_what_was_written_is_printed(
        tmp_path: Path) -> None:
    db = district_db(tmp_path / "gw.sqlite")
    out = tmp_path / "files"
    proc = kvarter("export", "open-data", "--out", str(out), cwd=tmp_path,
                   env={"KVARTER_DB": str(db)})
    shown = ok(proc)
    assert proc.stderr == ""  # the database was chosen: nothing to say
    assert f"open data of {YESTERDAY}" in shown
    assert "bins.csv" in shown and "2 rows (bins)" in shown
    # One zone, each hour of the day (23 or 25 on a clock change).
    assert re.search(r"presence\.csv +\d+ bytes +2[345] rows \(presence\)", shown), shown
    assert {p.name for p in out.iterdir()} >= {"datapackage.json", "bins.csv",
                                                "bins.geojson", "presence.csv"}
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


def test_today_has_what_is_over_of_it_and_says_so(tmp_path: Path) -> None:
    db = district_db(tmp_path / "gw.sqlite")
    shown = ok(kvarter("export", "open-data", "--db", str(db), "--day",
                       date.today().isoformat(), "--out", str(tmp_path / "today")))
    assert "under way" in shown


def test_bad_input_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    db = str(district_db(tmp_path / "gw.sqlite"))
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine\n")
    cases = [
        (["--day", tomorrow, "--out", str(tmp_path / "a")], "has not begun"),
        (["--day", "2026-02-30", "--out", str(tmp_path / "a")], "calendar"),
        (["--day", "yesterday", "--out", str(tmp_path / "a")], "YYYY-MM-DD"),
        (["--day", "1999-12-31", "--out", str(tmp_path / "a")], "2000"),
        (["--out", str(full)], "--force"),
        (["--out", str(full / "notes.txt")], "not a folder"),
        (["--out", "/proc/kvarter-open-data"], "/proc/kvarter-open-data"),
    ]
    for args, says in cases:
        line = one_line_error(kvarter("export", "open-data", "--db", db, *args))
        assert says in line, (args, line)
    assert not (tmp_path / "a").exists()
    assert [p.name for p in full.iterdir()] == ["notes.txt"]
    # Without a database: the line every command gives.
    line = one_line_error(kvarter("export", "open-data", "--out", str(tmp_path / "b"),
                                  cwd=tmp_path))
    assert "--db FILE" in line
    # --force writes beside what is there, and leaves it.
    ok(kvarter("export", "open-data", "--db", db, "--out", str(full), "--force"))
    assert (full / "notes.txt").read_text() == "mine\n" and (full / "bins.csv").exists()
