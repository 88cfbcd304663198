"""`kvarter users add|list|disable|enable|passwd` as an operator runs them:
the first admin before the gateway has ever run, one-line errors, a
non-zero exit whenever nothing happened, the password from standard input
for scripts and never echoed. Then the account works over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from api_support import PASSWORD, assert_problem, kvarter, login
from conftest import launch_gateway, one_line_error

from gateway.storage.store import Store


def test_the_first_admin_is_made_before_the_gateway_ever_ran(tmp_path: Path) -> None:
    db = tmp_path / "new" / "gateway.sqlite"
    proc = kvarter("users", "add", "root", "--role", "admin", "--db", str(db),
                   "--password-stdin", stdin=PASSWORD + "\n")
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    listed = json.loads(kvarter("users", "list", "--json", "--db", str(db)).stdout)
    assert [(u["username"], u["role"], u["disabled"]) for u in listed] == [
        ("root", "admin", False)]


def test_bad_input_gets_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    db = str(tmp_path / "g.sqlite")
    ok = kvarter("users", "add", "anna", "--role", "planner", "--db", db, "--password-stdin",
                 stdin=PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    cases = [
        (("add", "anna", "--role", "planner"), PASSWORD, "exists already"),
        (("add", "Bad Name", "--role", "planner"), PASSWORD, "user name"),
        (("add", "kim", "--role", "crew"), PASSWORD, "give --crew"),
        (("add", "kim", "--role", "planner", "--crew", "t1"), PASSWORD, "only a crew account"),
        (("add", "kim", "--role", "planner"), "short", "password must be"),
        (("add", "kim", "--role", "planner"), "", "standard input is empty"),
        (("disable", "nobody"), None, "no user 'nobody'"),
        (("enable", "anna"), None, "enabled already"),
        (("passwd", "nobody"), PASSWORD, "no user 'nobody'"),
    ]
    for args, stdin, expect in cases:
        extra = ("--password-stdin",) if args[0] in ("add", "passwd") else ()
        proc = kvarter("users", *args, "--db", db, *extra,
                       stdin=None if stdin is None else (stdin + "\n" if stdin else ""))
        line = one_line_error(proc)
        assert expect in line, (args, line)
    proc = kvarter("users", "add", "kim", "--role", "planner", "--db", db, stdin="x" * 20)
    assert "--password-stdin" in one_line_error(proc)  # no terminal to ask on
    assert "no gateway data" in one_line_error(
        kvarter("users", "list", "--db", str(tmp_path / "none.sqlite")))
    Store(tmp_path / "empty.sqlite").close()
    assert "no accounts yet" in one_line_error(
        kvarter("users", "list", "--db", str(tmp_path / "empty.sqlite")))


def test_disable_and_passwd_take_effect_on_a_running_gateway(tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path)
    db = str(gw.db)
    try:
        for name, role in (("root", "admin"), ("anna", "planner")):
            proc = kvarter("users", "add", name, "--role", role, "--db", db,
                           "--password-stdin", stdin=PASSWORD + "\n")
            assert proc.returncode == 0, proc.stderr
        session = login(gw, "anna")
        assert session.get("/api/v1/bins").status_code == 200
        proc = kvarter("users", "passwd", "anna", "--db", db, "--password-stdin",
                       stdin="a brand new password\n")
        assert proc.returncode == 0, proc.stderr
        assert_problem(session.get("/api/v1/me"), 401)
        session = login(gw, "anna", "a brand new password")
        assert kvarter("users", "disable", "anna", "--db", db).returncode == 0
        assert_problem(session.get("/api/v1/me"), 401)
        r = httpx.post(f"{gw.http_url}/api/v1/session",
                       json={"username": "anna", "password": "a brand new password"})
        assert_problem(r, 401)
        assert "disabled already" in one_line_error(kvarter("users", "disable", "anna",
                                                            "--db", db))
        assert "last enabled admin" in one_line_error(kvarter("users", "disable", "root",
                                                              "--db", db))
        assert kvarter("users", "enable", "anna", "--db", db).returncode == 0
        assert login(gw, "anna", "a brand new password").get("/api/v1/me").status_code == 200
        table = kvarter("users", "list", "--db", db).stdout
        assert "anna" in table and "planner" in table and " UTC" in table
    finally:
        gw.stop()
