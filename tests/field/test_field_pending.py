"""Registrations saved while the gateway was out of reach, delivered later by
`kvarter node register --pending` to a real gateway."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from conftest import launch_gateway, one_line_error, technician_lines

from gateway.records import Node, SelfTest
from sim.gateway_process import free_udp_port, start_gateway, stop_gateway
from tools.field import pending

KEY = "00112233445566778899aabbccddeeff"


def kvarter(pending_file: Path, *args: str,
            db: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command with the pending file, and with db, a site profile with a
    technician credential of the gateway that keeps that database."""
    env = dict(os.environ, KVARTER_PENDING=str(pending_file))
    env.pop("KVARTER_SITE", None)
    if db is not None:
        site = pending_file.with_name("site.toml")
        site.write_text(technician_lines(db))
        site.chmod(0o600)
        env["KVARTER_SITE"] = str(site)
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=60, env=env, cwd=pending_file.parent)


def test_saved_registrations_are_private_and_one_per_node(tmp_path: Path) -> None:
    path = tmp_path / "state" / "pending.json"
    pending.save(path, Node("B1", "bin", 60.67, 17.14, "240L", key=KEY), "127.0.0.1:9", False)
    pending.save(path, Node("B1", "bin", 60.68, 17.14, "240L", key=KEY), "127.0.0.1:9", True)
    pending.save(path, Node("L1", "light", 60.67, 17.15, "street-1", key=KEY), "127.0.0.1:9",
                 False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the nodes' keys
    entries = pending.load(path)
    assert [(p.node.node_id, p.node.lat, p.replace) for p in entries] == [
        ("B1", 60.68, True), ("L1", 60.67, False)]
    assert entries[0].node.key == KEY


def test_register_pending_delivers_once_the_gateway_answers(tmp_path: Path) -> None:
    path = tmp_path / "pending.json"
    port = free_udp_port()
    pending.save(path, Node("B7", "bin", 60.67, 17.14, "240L", key=KEY), f"127.0.0.1:{port}",
                 False)
    db = tmp_path / "gateway.sqlite"
    # The gateway is still down: the registration stays.
    down = kvarter(path, "node", "register", "--pending", db=db)
    assert "1 of 1 still waiting" in one_line_error(down)
    assert "B7: still waiting: gateway at" in down.stdout
    assert [p.node.node_id for p in pending.load(path)] == ["B7"]
    proc = start_gateway(db, port)
    try:
        up = kvarter(path, "node", "register", "--pending", db=db)
        assert up.returncode == 0, up.stderr
        assert "B7: registered" in up.stdout
    finally:
        stop_gateway(proc)
    assert not path.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT node_id, key FROM nodes").fetchall() == [("B7", KEY)]
    again = kvarter(path, "node", "register", "--pending", db=db)
    assert again.returncode == 0 and "no registrations or self-tests waiting" in again.stdout


def test_a_self_test_kept_on_the_laptop_follows_its_registration(tmp_path: Path) -> None:
    # Set up on a street out of the gateway's reach: the registration and
    # the self-test's result both wait; the self-test is given after the
    # registration, which the gateway needs first.
    path = tmp_path / "pending.json"
    port = free_udp_port()
    gateway = f"127.0.0.1:{port}"
    pending.save(path, Node("B9", "bin", 60.67, 17.14, "240L", key=KEY), gateway, False)
    older = SelfTest(1_790_000_000, False, ("battery",), "a1b2c3d4e5f6", -70)
    newer = SelfTest(1_790_000_600, True, (), "a1b2c3d4e5f6", -67)
    pending.save_selftest(path, "B9", gateway, older)
    pending.save_selftest(path, "B9", gateway, newer)  # the latest says how it stands
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [t.result for t in pending.load_all(path).selftests] == [newer]
    db = tmp_path / "gateway.sqlite"
    down = kvarter(path, "node", "register", "--pending", db=db)
    assert "2 of 2 still waiting" in one_line_error(down)
    assert "B9: still waiting: its self-test waits for its registration" in down.stdout
    proc = start_gateway(db, port)
    try:
        up = kvarter(path, "node", "register", "--pending", db=db)
        assert up.returncode == 0, up.stderr
        lines = up.stdout.splitlines()
        assert lines[0].startswith("B9: registered")
        assert lines[1].startswith("B9: self-test of ") and "given to the gateway" in lines[1]
    finally:
        stop_gateway(proc)
    assert not path.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT node_id, at, ok, firmware, wifi_dbm FROM node_selftests"
                            ).fetchall() == [("B9", newer.at, 1, "a1b2c3d4e5f6", -67)]


def test_a_damaged_self_test_in_the_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "pending.json"
    path.write_text('{"registrations": [], "selftests": [{"node_id": "B1", '
                    '"gateway": "127.0.0.1:9", "result": {"at": "yesterday", "ok": true}}]}')
    line = one_line_error(kvarter(path, "node", "register", "--pending",
                                  db=tmp_path / "g.sqlite"))
    assert "damaged" in line and "self-test needs at" in line


def test_a_pending_new_node_whose_id_was_taken_meanwhile_stays(tmp_path: Path) -> None:
    path = tmp_path / "pending.json"
    gw = launch_gateway(tmp_path)
    try:
        gw.register(Node("B8", "bin", 60.0, 17.0))
        pending.save(path, Node("B8", "bin", 60.67, 17.14, key=KEY), f"127.0.0.1:{gw.port}",
                     False)
        out = kvarter(path, "node", "register", "--pending", db=gw.db)
        assert "still waiting" in one_line_error(out)
        assert "--replace" in out.stdout
        assert len(pending.load(path)) == 1
    finally:
        gw.stop()


def test_register_without_an_id_or_pending_is_one_line(tmp_path: Path) -> None:
    line = one_line_error(kvarter(tmp_path / "p.json", "node", "register"))
    assert "--pending" in line
    # Without a technician credential in the site profile: what to ask for.
    line = one_line_error(kvarter(tmp_path / "p.json", "node", "register", "--pending"))
    assert "no [technician] credential" in line and "gateway's admin" in line


def test_a_pending_replacement_carries_the_proof_of_the_old_key(tmp_path: Path) -> None:
    path = tmp_path / "pending.json"
    gw = launch_gateway(tmp_path)
    try:
        gw.register(Node("B9", "bin", 60.0, 17.0, key=KEY))
        new_key = "ff" * 16
        # Saved with a key that is not the one the gateway has: refused, kept.
        pending.save(path, Node("B9", "bin", 60.5, 17.0, key=new_key), f"127.0.0.1:{gw.port}",
                     True, old_key="11" * 16)
        (outcome,) = pending.deliver(path, gw.technician)
        assert not outcome.ok and "does not match" in outcome.text
        assert len(pending.load(path)) == 1
        # Saved with the replaced node's key, as provision reads it from the node.
        pending.save(path, Node("B9", "bin", 60.5, 17.0, key=new_key), f"127.0.0.1:{gw.port}",
                     True, old_key=KEY)
        (outcome,) = pending.deliver(path, gw.technician)
        assert outcome.ok, outcome.text
        assert not path.exists()
    finally:
        gw.stop()
    with sqlite3.connect(gw.db) as conn:
        assert conn.execute("SELECT lat, key FROM nodes").fetchall() == [(60.5, new_key)]


def test_a_pending_node_keeps_the_kid_it_was_given_and_no_other_node_can_take_it(
        tmp_path: Path) -> None:
    path = tmp_path / "pending.json"
    gw = launch_gateway(tmp_path)
    try:
        chosen = pending.choose_kid()
        assert len(chosen) == 8
        pending.save(path, Node("B10", "bin", 60.67, 17.14, key=KEY), f"127.0.0.1:{gw.port}",
                     False, kid=chosen)
        pending.save(path, Node("B11", "bin", 60.67, 17.15, key="ab" * 16),
                     f"127.0.0.1:{gw.port}", False, kid=chosen)
        first, second = pending.deliver(path, gw.technician)
        assert first.ok and f"with the kid {chosen} it was given" in first.text
        # The same kid for another node (two laptops' dice alike): refused,
        # the registration kept, and what to do.
        assert not second.ok and "provision B11 again" in second.text
        assert [p.node.node_id for p in pending.load(path)] == ["B11"]
        # A kid of the gateway's own length, or without a key, is not taken.
        for node, kid in ((Node("B12", "bin", 60.6, 17.1, key=KEY), "07"),
                          (Node("B13", "bin", 60.6, 17.1), "0a0b0c0d")):
            pending.save(path, node, f"127.0.0.1:{gw.port}", False, kid=kid)
        outcomes = {o.node_id: o for o in pending.deliver(path, gw.technician)}
        assert "kid must be 8 hex digits" in outcomes["B12"].text
        assert "a kid comes only with the node's key" in outcomes["B13"].text
    finally:
        gw.stop()
    with sqlite3.connect(gw.db) as conn:
        assert conn.execute("SELECT node_id, kid FROM oscore_contexts").fetchall() == [
            ("B10", bytes.fromhex(chosen))]
