"""The `kvarter` command line as people and their scripts use it: which
database a command reads, --json on every listing (parsed here), the exit
status when an action did not happen or happened in part, typos refused in
one line, progress on standard error only, and every time with its zone.

Each command runs as its own process, as `kvarter ...` does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
from conftest import RunningGateway, one_line_error

from firmware import codec
from gateway.records import BinRecord, Node
from gateway.storage.store import Store
from tools.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_790_000_000  # 2026-09-21, a Monday


def kvarter(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "KVARTER_DB"}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd or ROOT, env=full, input=stdin)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def parsed(proc: subprocess.CompletedProcess[str]) -> Any:
    """--json output: one JSON document on standard output, nothing else."""
    return json.loads(ok(proc))


def district_db(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Store(path) as store:
        store.register(Node("B1", "bin", 60.67, 17.14, "240L"))
        store.register(Node("B2", "bin", 60.68, 17.15, "240L"))
        store.register(Node("L1", "light", 60.67, 17.14, "park", addr=1))
        store.register(Node("L2", "light", 60.67, 17.15, "park", addr=2))
        store.insert([BinRecord("B1", codec.BinReport(h, 0, 30.0 + 5 * h), NOW - 3600 * (6 - h))
                      for h in range(6)])
        store.add_technician("anna")
    return path


# --- which database -------------------------------------------------------------------------

def test_without_a_database_one_line_says_how_to_choose_one(tmp_path: Path) -> None:
    line = one_line_error(kvarter("gateway", "nodes", cwd=tmp_path))
    assert "--db FILE" in line and "KVARTER_DB" in line and "make demo" in line


def test_the_demos_database_is_found_and_named(tmp_path: Path) -> None:
    district_db(tmp_path / "var" / "demo" / "gateway.sqlite")
    proc = kvarter("gateway", "nodes", "--json", cwd=tmp_path)
    assert [n["node_id"] for n in parsed(proc)] == ["B1", "B2", "L1", "L2"]
    assert proc.stderr.strip().splitlines() == [
        "kvarter: using the demo's database var/demo/gateway.sqlite (--db FILE or "
        "KVARTER_DB=FILE chooses another)"]
    # The gateway's own default comes first, once it exists.
    with Store(tmp_path / "var" / "gateway.sqlite") as store:
        store.register(Node("X1", "bin", 60.0, 17.0))
    proc = kvarter("gateway", "nodes", "--json", cwd=tmp_path)
    assert [n["node_id"] for n in parsed(proc)] == ["X1"]
    assert "the gateway's default database var/gateway.sqlite" in proc.stderr


def test_kvarter_db_is_every_commands_db_and_db_wins(tmp_path: Path) -> None:
    db = district_db(tmp_path / "a.sqlite")
    other = tmp_path / "b.sqlite"
    with Store(other) as store:
        store.register(Node("Z9", "bin", 60.0, 17.0))
    env = {"KVARTER_DB": str(db)}
    for args in (["gateway", "nodes", "--json"], ["bins", "status", "--json"],
                 ["lights", "status", "--json"], ["gateway", "technician", "list", "--json"],
                 ["users", "list", "--json"], ["lights", "zone", "list", "--json"]):
        proc = kvarter(*args, cwd=tmp_path, env=env)
        parsed(proc)
        assert proc.stderr == "", (args, proc.stderr)  # chosen explicitly: nothing to say
    assert "B1" in ok(kvarter("gateway", "reports", cwd=tmp_path, env=env))
    nodes = parsed(kvarter("gateway", "nodes", "--json", "--db", str(other), cwd=tmp_path,
                           env=env))
    assert [n["node_id"] for n in nodes] == ["Z9"]
    # The first account goes into $KVARTER_DB too.
    ok(kvarter("users", "add", "root", "--role", "admin", "--password-stdin", cwd=tmp_path,
               env={"KVARTER_DB": str(other)}, stdin="a long enough password\n"))
    with Store(other) as store:
        assert store.user("root") is not None


# --- --json on every listing -------------------------------------------------------------------

LISTINGS = {"nodes", "summary", "reports", "list", "status", "show", "log"}


def _sub(group: click.Group, name: str) -> click.Command:
    # Through click's own lookup: the top group loads its subgroups lazily.
    cmd = group.get_command(click.Context(group), name)
    assert cmd is not None, name
    return cmd


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name in group.list_commands(click.Context(group)):
        cmd = _sub(group, name)
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*path, name))
        else:
            out.append((*path, name))
    return out


def test_every_listing_has_json() -> None:
    missing = []
    for path in _commands(cli):
        cmd: click.Command = cli
        for part in path:
            assert isinstance(cmd, click.Group)
            cmd = _sub(cmd, part)
        if path[-1] in LISTINGS or path == ("node", "ports"):
            if not any("--json" in p.opts for p in cmd.params):
                missing.append(" ".join(path))
    assert missing == []


def test_each_listing_prints_json_that_parses(tmp_path: Path) -> None:
    db = str(district_db(tmp_path / "gw.sqlite"))
    ok(kvarter("lights", "zone", "set", "park", "--idle", "25", "--who", "bo", "--db", db))
    ok(kvarter("users", "add", "root", "--role", "admin", "--password-stdin", "--db", db,
               stdin="a long enough password\n"))
    nodes = parsed(kvarter("gateway", "nodes", "--json", "--db", db))
    assert nodes[2] == {"node_id": "L1", "role": "light", "lat": 60.67,
                        "lon": 17.14, "kind": "park", "addr": 1}
    summary = parsed(kvarter("gateway", "summary", "--json", "--db", db))
    assert summary["bins"] == 2 and summary["bin_reports"] == 6
    reports = parsed(kvarter("gateway", "reports", "--json", "--node", "B1", "--db", db))
    assert [r["seq"] for r in reports] == [5, 4, 3, 2, 1, 0]
    assert reports[0]["measured_at"] == "2026-09-21T13:13:20+00:00"
    techs = parsed(kvarter("gateway", "technician", "list", "--json", "--db", db))
    assert [(t["name"], t["state"]) for t in techs] == [("anna", "active")]
    users = parsed(kvarter("users", "list", "--json", "--db", db))
    assert [(u["username"], u["role"]) for u in users] == [("root", "admin")]
    bins = parsed(kvarter("bins", "status", "--json", "--db", db))
    assert {b["node_id"] for b in bins} == {"B1", "B2"}
    assert next(b for b in bins if b["node_id"] == "B2")["reported_at"] is None
    poles = parsed(kvarter("lights", "status", "--json", "--db", db))
    assert [(p["node_id"], p["offline"]) for p in poles] == [("L1", True), ("L2", True)]
    zones = parsed(kvarter("lights", "zone", "list", "--json", "--db", db))
    assert [(z["name"], z["poles"], z["revision"]) for z in zones] == [("park", 2, 1)]
    shown = parsed(kvarter("lights", "zone", "show", "park", "--json", "--db", db))
    assert shown["settings"]["idle"] == "25 %" and shown["changed_by"] == "bo"
    log = parsed(kvarter("lights", "zone", "log", "park", "--json", "--db", db))
    assert [(e["setting"], e["old"], e["new"]) for e in log] == [("idle", "20 %", "25 %")]
    out = tmp_path / "plan"
    ok(kvarter("routes", "plan", "--db", db, "--depot", "60.67,17.14", "--capacity", "5000",
               "--out", str(out), "--time-limit", "0.3", "--every-bin"))
    routes = parsed(kvarter("routes", "show", "--json", "--out", str(out)))
    assert routes[0]["truck"] == "truck-1"
    assert sorted(s["node_id"] for s in routes[0]["stops"]) == ["B1", "B2"]
    assert [s["order"] for s in routes[0]["stops"]] == [1, 2]


def test_an_empty_listing_is_an_empty_json_list(tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite"
    Store(db).close()
    for args in (["gateway", "nodes"], ["gateway", "reports"], ["bins", "status"],
                 ["lights", "status"], ["lights", "zone", "list"], ["users", "list"]):
        assert parsed(kvarter(*args, "--json", "--db", str(db))) == [], args


# --- progress -------------------------------------------------------------------------------

def test_progress_goes_to_standard_error_and_never_into_json(tmp_path: Path) -> None:
    db = str(district_db(tmp_path / "gw.sqlite"))
    shown = kvarter("--progress", "bins", "status", "--json", "--db", db)
    assert len(parsed(shown)) == 2
    assert "forecasting each bin" in shown.stderr
    # Not a terminal and not asked for: nothing; asked not to: nothing.
    assert kvarter("bins", "status", "--json", "--db", db).stderr == ""
    assert kvarter("--no-progress", "bins", "status", "--db", db).stderr == ""
    out = tmp_path / "plan"
    planned = kvarter("--progress", "routes", "plan", "--db", db, "--depot", "60.67,17.14",
                      "--capacity", "5000", "--out", str(out), "--time-limit", "0.3",
                      "--every-bin")
    assert "planning 1 truck(s)" in ok(planned) + planned.stderr
    assert "planning" not in planned.stdout


# --- times ------------------------------------------------------------------------------------

def test_every_printed_time_carries_its_zone(tmp_path: Path) -> None:
    db = str(district_db(tmp_path / "gw.sqlite"))
    ok(kvarter("lights", "zone", "set", "park", "--idle", "25", "--who", "bo", "--db", db))
    stockholm = {"TZ": "Europe/Stockholm"}
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?(?: (\S+))?")
    for args in (["bins", "status"], ["gateway", "reports"], ["gateway", "technician", "list"],
                 ["lights", "zone", "log", "park"], ["lights", "zone", "show", "park"]):
        text = ok(kvarter(*args, "--db", db, env=stockholm))
        zones = stamp.findall(text)
        assert zones and set(zones) <= {"CEST", "CET", "UTC"}, (args, text)
    status = ok(kvarter("bins", "status", "--db", db, env=stockholm))
    b1 = next(ln for ln in status.splitlines() if ln.startswith("B1"))
    assert "2026-09-21 15:13 CEST" in b1  # 13:13 UTC, in Stockholm's summer time
    done = ok(kvarter("bins", "emptied", "B1", "--at", "2026-09-21T09:40", "--db", db,
                      env=stockholm))
    assert done.strip() == "B1: emptied at 2026-09-21 09:40 CEST"


# --- typos ------------------------------------------------------------------------------------

def test_an_unknown_config_key_is_refused_before_the_node_is_touched(tmp_path: Path) -> None:
    line = one_line_error(kvarter("node", "provision", "B9", "--port", str(tmp_path / "none"),
                                  "--role", "bin", "--lat", "60.6", "--lon", "17.1",
                                  "--set", "empty_m=1100"))
    assert "a bin node has no setting 'empty_m'" in line and "did you mean empty_mm" in line
    # A light pole's key is no bin's.
    line = one_line_error(kvarter("node", "provision", "B9", "--port", str(tmp_path / "none"),
                                  "--role", "bin", "--lat", "60.6", "--lon", "17.1",
                                  "--set", "lamp_w=60"))
    assert "no setting 'lamp_w'" in line


def test_a_mistyped_zone_is_refused_with_the_nearest_name(tmp_path: Path) -> None:
    db = str(district_db(tmp_path / "gw.sqlite"))
    for args in (["zone", "set", "prak", "--idle", "30", "--who", "bo"],
                 ["zone", "show", "prak"], ["zone", "log", "prak"], ["zone", "push", "prak"],
                 ["zone", "effect", "prak", "--idle", "10"], ["zone", "rekey", "prak"]):
        line = one_line_error(kvarter("lights", *args, "--db", db))
        assert "no zone 'prak'" in line and "did you mean park" in line, line
    with Store(Path(db)) as store:
        assert store.zone_rows() == [] and store.zone_keys() == {}
    # A new zone is made on purpose.
    out = ok(kvarter("lights", "zone", "set", "harbour", "--idle", "30", "--who", "bo",
                     "--create", "--db", db))
    assert "revision 1" in out


def test_an_unknown_node_in_reports_is_refused(tmp_path: Path) -> None:
    db = str(district_db(tmp_path / "gw.sqlite"))
    assert "no node 'B7'" in one_line_error(kvarter("gateway", "reports", "--node", "B7",
                                                    "--db", db))


# --- exit status -------------------------------------------------------------------------------

def test_a_push_no_pole_acknowledged_exits_1(gateway: RunningGateway) -> None:
    gateway.register(Node("P1", "light", 60.67, 17.14, "park"))
    proc = kvarter("lights", "zone", "push", "park", "--timeout", "0.5", "--json",
                   "--db", str(gateway.db))
    assert proc.returncode == 1, proc.stderr
    body = json.loads(proc.stdout)
    assert body["acknowledged"] == 0 and body["poles"] == 1
    assert body["results"][0]["node_id"] == "P1"
    assert "reached 0 of 1 poles" in proc.stderr and "Traceback" not in proc.stderr
