"""The technician's commands end to end, without hardware: the real mpremote
transport over a serial line to a virtual ESP32 node (the real MicroPython
VM running our firmware, sim/virtual_node.py) and a real gateway process.
`kvarter node setup` takes a blank node to its first report stored in the
gateway's SQLite; the failures a technician meets on a street each give one
line and leave things as they say."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunningGateway, one_line_error, technician_lines

from gateway.records import Node
from sim.gateway_process import free_udp_port, gateway_log_path, start_gateway, stop_gateway
from sim.virtual_node import VirtualNode
from tools.field.deploy import _parents, build, deploy, sha256
from tools.field.node_link import NodeLink
from tools.field.progress import Reporter
from tools.firmware_build import compile_file

WIFI = {"city-iot": "secret"}
KEY = "00112233445566778899aabbccddeeff"
LAT, LON = 60.6751, 17.1420


def site_file(tmp_path: Path, gateway_port: int, db: Path | None = None) -> Path:
    """The technician's site profile; with db, with a technician credential
    of the gateway that keeps that database."""
    path = tmp_path / "kvarter-site.toml"
    path.write_text(f"""
name = "test district"
[gateway]
address = "127.0.0.1:{gateway_port}"
[area]
south = 60.665
north = 60.685
west = 17.120
east = 17.162
[wifi]
ssid = "city-iot"
password = "secret"
[node]
bin_type = "240L"
[bin]
empty_mm = 1000
full_mm = 250
""" + ("" if db is None else technician_lines(db)))
    path.chmod(0o600)
    return path


def kvarter(tmp_path: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KVARTER_PENDING=str(tmp_path / "pending.json"))
    env.pop("KVARTER_SITE", None)
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=tmp_path)


def node_config(device: str) -> dict[str, object] | None:
    with NodeLink(device) as link:
        cfg = link.read_json("/config.json")
    return cfg if isinstance(cfg, dict) else None


def clear_config(device: str) -> None:
    with NodeLink(device) as link:
        link.run("import os\ntry:\n os.remove('/config.json')\nexcept OSError:\n pass\n")


def stored_reports(db: Path, node_id: str) -> list[tuple[int, float | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT seq, fill_pct FROM bin_reports WHERE node_id = ?",
                            (node_id,)).fetchall()


def wait_for_report(db: Path, node_id: str, timeout: float = 60) -> list[tuple[int, float | None]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = stored_reports(db, node_id)
        if rows:
            return rows
        time.sleep(0.3)
    raise AssertionError(f"no report from {node_id} stored within {timeout} s")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualNode]:
    """One virtual bin node with our firmware on it, shared by the tests that
    need a deployed node (each one provisions it its own way)."""
    tmp = tmp_path_factory.mktemp("vnode")
    with VirtualNode(tmp, wifi=WIFI, fill_mm=600, battery_mv=3600) as vn:
        out = kvarter(tmp, "node", "deploy", "--port", vn.device)
        assert out.returncode == 0, out.stderr
        assert "all verified by sha256" in out.stdout
        yield vn


def test_setup_takes_a_blank_node_to_its_first_report(tmp_path: Path,
                                                      gateway: RunningGateway) -> None:
    site = site_file(tmp_path, gateway.port, gateway.db)
    with VirtualNode(tmp_path / "vn", wifi=WIFI, fill_mm=600, battery_mv=3600) as vn:
        out = kvarter(tmp_path, "node", "setup", "B0042", "--port", vn.device, "--role", "bin",
                      "--lat", str(LAT), "--lon", str(LON), "--site", str(site))
        assert out.returncode == 0, out.stderr + vn.output()[-2000:]
        lines = out.stdout.splitlines()
        assert any(ln.startswith("1/3 deploy") and " ok " in ln for ln in lines)
        assert any(ln.startswith("2/3 provision") and "registered as a new node" in ln
                   for ln in lines)
        assert any(ln.startswith("3/3 selftest") and "node reset to start" in ln for ln in lines)
        assert lines[-1] == "B0042 is set up: 3 steps done; it is running now"
        assert any(ln.startswith("3/3 selftest") and "the gateway at" in ln
                   and "has the result of B0042" in ln for ln in lines), lines
        rows = wait_for_report(gateway.db, "B0042")
    # 600 mm to the rubbish in a bin 1000 mm deep, full at 250 mm: about 53 %.
    assert rows[0][1] is not None and 45 <= rows[0][1] <= 60
    with sqlite3.connect(gateway.db) as conn:
        node_id, kind, key = conn.execute("SELECT node_id, kind, key FROM nodes").fetchone()
    assert (node_id, kind) == ("B0042", "240L") and len(key) == 32
    # The self-test as the technician's screen shows it: passed (a new node's
    # contact and clock are expected to wait for its first report), the
    # firmware build deploy put there, the Wi-Fi where it stands.
    deployed_id = next(ln for ln in lines if ln.startswith("1/3 deploy")).rsplit(" ", 1)[1]
    with sqlite3.connect(gateway.db) as conn:
        ok, failed, firmware, wifi, by = conn.execute(
            "SELECT ok, failed, firmware, wifi_dbm, technician FROM node_selftests "
            "WHERE node_id = 'B0042'").fetchone()
    assert (ok, failed, firmware) == (1, "", deployed_id) and len(firmware) == 12
    assert wifi is not None and -127 <= wifi <= 0 and by


def test_deploy_copies_only_what_changed_and_removes_stale_files(
        tmp_path: Path, deployed: VirtualNode) -> None:
    with NodeLink(deployed.device) as link:
        link.write("/firmware/old_module.py", b"RETIRED = True\n")
        link.write("/firmware/waste/payload.mpy", b"not the real one")
        link.write("/outbox.bin", b"\x00")  # the node's own data is not ours to touch
    out = kvarter(tmp_path, "node", "deploy", "--port", deployed.device)
    assert out.returncode == 0, out.stderr
    assert "deployed   1 files copied" in out.stdout and "1 stale removed" in out.stdout
    with NodeLink(deployed.device) as link:
        files, _ = link.tree("/firmware", "/outbox.bin")
    assert "/firmware/old_module.py" not in files and "/outbox.bin" in files
    again = kvarter(tmp_path, "node", "deploy", "--port", deployed.device)
    assert "deployed   0 files copied (0 bytes)" in again.stdout


def test_ports_names_the_virtual_node(tmp_path: Path, deployed: VirtualNode) -> None:
    out = kvarter(tmp_path, "node", "ports", "--port", deployed.device)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith(deployed.device))
    assert "MicroPython 1.27" in line


def test_a_duplicate_id_is_refused_and_replace_keeps_its_history(
        tmp_path: Path, gateway: RunningGateway, deployed: VirtualNode) -> None:
    clear_config(deployed.device)
    gateway.register(Node("B0007", "bin", LAT, LON, "240L", key=KEY))
    site = site_file(tmp_path, gateway.port, gateway.db)
    base = ["node", "provision", "B0007", "--port", deployed.device, "--role", "bin",
            "--lat", str(LAT), "--lon", str(LON), "--site", str(site)]
    line = one_line_error(kvarter(tmp_path, *base))
    assert "already has a node B0007" in line and "--replace" in line
    assert node_config(deployed.device) is None  # refused before the node was touched
    # A new board for a broken B0007 has no key of it: only the operator's
    # override lets it take over, and that is refused before the node is
    # touched too.
    line = one_line_error(kvarter(tmp_path, *base, "--replace"))
    assert "--override" in line and node_config(deployed.device) is None
    out = kvarter(tmp_path, *base, "--override")
    assert out.returncode == 0, out.stderr
    assert "registered as the replacement: same id, its history kept" in out.stdout
    with sqlite3.connect(gateway.db) as conn:
        (overridden,) = conn.execute("SELECT key FROM nodes WHERE node_id = 'B0007'").fetchone()
    assert "replaces node 'B0007' by OVERRIDE" in gateway_log_path(gateway.db).read_text()
    # Provisioned again (moved, reconfigured) with the node at hand: its
    # key in config.json is the proof, no override needed.
    out = kvarter(tmp_path, *base, "--replace")
    assert out.returncode == 0, out.stderr
    assert "registered as the replacement: same id, its history kept" in out.stdout
    cfg = node_config(deployed.device)
    with sqlite3.connect(gateway.db) as conn:
        (key,) = conn.execute("SELECT key FROM nodes WHERE node_id = 'B0007'").fetchone()
        (kid,) = conn.execute("SELECT kid FROM oscore_contexts WHERE node_id = 'B0007'"
                              ).fetchone()
    assert cfg is not None and cfg["id"] == "B0007" and cfg["key"] == key != overridden
    assert "replaces node 'B0007', with proof of its key" in gateway_log_path(
        gateway.db).read_text()
    # The gateway's kid for the node's OSCORE context, written after registering.
    assert cfg["kid"] == bytes(kid).hex() and f"kid        {cfg['kid']}" in out.stdout


def test_gateway_down_leaves_the_node_configured_and_the_registration_pending(
        tmp_path: Path, deployed: VirtualNode) -> None:
    clear_config(deployed.device)
    port = free_udp_port()
    db = tmp_path / "gateway.sqlite"
    site = site_file(tmp_path, port, db)
    line = one_line_error(kvarter(
        tmp_path, "node", "provision", "B0099", "--port", deployed.device, "--role", "bin",
        "--lat", str(LAT), "--lon", str(LON), "--site", str(site)))
    assert "B0099 is configured, but the gateway at" in line
    assert "kvarter node register --pending" in line and "no need to come back" in line
    cfg = node_config(deployed.device)
    assert cfg is not None and cfg["id"] == "B0099"
    # The node has its kid already, chosen on the laptop: 4 bytes, never one
    # the gateway gives itself.
    assert isinstance(cfg["kid"], str) and len(cfg["kid"]) == 8
    saved = json.loads((tmp_path / "pending.json").read_text())["registrations"]
    assert [r["node"]["node_id"] for r in saved] == ["B0099"]
    assert saved[0]["node"]["key"] == cfg["key"] and saved[0]["kid"] == cfg["kid"]
    proc = start_gateway(db, port)
    try:
        out = kvarter(tmp_path, "node", "register", "--pending", "--site", str(site))
        assert out.returncode == 0, out.stderr
        assert f"B0099: registered with the kid {cfg['kid']} it was given" in out.stdout
    finally:
        stop_gateway(proc)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT node_id, key FROM nodes").fetchall() == [
            ("B0099", cfg["key"])]
        assert conn.execute("SELECT kid FROM oscore_contexts").fetchall() == [
            (bytes.fromhex(cfg["kid"]),)]


def test_a_node_set_up_while_the_gateway_was_away_reports_once_the_registration_is_delivered(
        tmp_path: Path) -> None:
    port = free_udp_port()
    db = tmp_path / "gateway.sqlite"
    site = site_file(tmp_path, port, db)
    with VirtualNode(tmp_path / "vn", wifi=WIFI, fill_mm=600, battery_mv=3600) as vn:
        # On the street, the gateway out of reach: deployed, configured and
        # self-tested (every step done on the node), its registration and
        # the self-test's result saved on the laptop: a partial success.
        out = kvarter(tmp_path, "node", "setup", "B0077", "--port", vn.device, "--role", "bin",
                      "--lat", str(LAT), "--lon", str(LON), "--site", str(site))
        assert out.returncode == 3, out.stderr
        assert "no need to come back" in out.stderr and "self-test" in out.stderr
        assert "4/4 selftest  ok" in out.stdout or "3/3 selftest  ok" in out.stdout, out.stdout
        cfg = node_config(vn.device)
        assert cfg is not None and len(str(cfg["kid"])) == 8
        proc = start_gateway(db, port)
        try:
            # Back in the office: the registration delivered. Nobody goes
            # back to the node: it starts (power-on) with the config it got
            # on the street, and the gateway, which requires OSCORE, takes
            # its protected reports.
            out = kvarter(tmp_path, "node", "register", "--pending", "--site", str(site))
            assert out.returncode == 0, out.stderr
            assert f"B0077: registered with the kid {cfg['kid']}" in out.stdout
            # The self-test made on the street reaches the nodes screen too.
            assert "B0077: self-test of " in out.stdout
            with sqlite3.connect(db) as conn:
                assert conn.execute("SELECT node_id, technician FROM node_selftests"
                                    ).fetchall() == [("B0077", "field")]
            vn.press_reset()
            rows = wait_for_report(db, "B0077", timeout=120)
        finally:
            stop_gateway(proc)
    assert rows[0][1] is not None and 45 <= rows[0][1] <= 60
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT node_id, kid FROM oscore_contexts").fetchall() == [
            ("B0077", bytes.fromhex(str(cfg["kid"])))]


def test_a_position_outside_the_area_leaves_the_node_as_it_was(
        tmp_path: Path, deployed: VirtualNode) -> None:
    clear_config(deployed.device)
    site = site_file(tmp_path, free_udp_port())
    line = one_line_error(kvarter(
        tmp_path, "node", "provision", "B0100", "--port", deployed.device, "--role", "bin",
        "--lat", "59.3293", "--lon", "18.0686", "--site", str(site)))
    assert "outside the area" in line
    assert node_config(deployed.device) is None


def test_a_failing_self_test_exits_1_with_what_to_do(
        tmp_path: Path, gateway: RunningGateway, deployed: VirtualNode) -> None:
    clear_config(deployed.device)
    site = site_file(tmp_path, gateway.port, gateway.db)
    out = kvarter(tmp_path, "node", "provision", "B0050", "--port", deployed.device, "--role",
                  "bin", "--lat", str(LAT), "--lon", str(LON), "--site", str(site))
    assert out.returncode == 0, out.stderr
    # The echo now comes from 1.5 m down: past the bottom of a bin 1 m deep.
    deployed.set(fill_mm=1500)
    try:
        test = kvarter(tmp_path, "node", "selftest", "--port", deployed.device, "--no-start",
                       "--site", str(site))
    finally:
        deployed.set(fill_mm=600)
    assert test.returncode == 1
    assert one_line_error(test) == "Error: 1 of 8 checks failed: sensor"
    # The gateway has it for the technician's screen: failed, and which check.
    assert "has the result of B0050 for its nodes screen" in test.stdout
    with sqlite3.connect(gateway.db) as conn:
        ok, failed = conn.execute("SELECT ok, failed FROM node_selftests "
                                  "WHERE node_id = 'B0050'").fetchone()
    assert (ok, failed) == (0, "sensor")
    sensor = next(ln for ln in test.stdout.splitlines() if ln.startswith("sensor"))
    assert "FAIL" in sensor and "past the empty bin's bottom" in sensor
    assert "points straight down" in sensor
    gw_line = next(ln for ln in test.stdout.splitlines() if ln.startswith("gateway"))
    assert "PASS" in gw_line


def test_a_node_that_does_not_answer_its_repl(tmp_path: Path) -> None:
    master, slave = os.openpty()
    name = os.ttyname(slave)
    os.close(slave)
    try:
        start = time.monotonic()
        line = one_line_error(kvarter(tmp_path, "node", "deploy", "--port", name))
        assert time.monotonic() - start < 20
    finally:
        os.close(master)
    assert "does not answer its REPL" in line and "reset button" in line


# Where `kvarter node deploy` put the firmware before it was arranged by layer
# and role: one flat firmware/ folder, the sensor drivers beside
# hal/esp32.py. Kept as a list (CI clones may be shallow, with no history to
# build it from); each file gets a small valid .mpy of its own.
OLD_MODULES = [
    "__init__", "airtime", "astro", "bin_node", "bridge", "bridge_frame", "coap", "codec",
    "config", "contact", "crc16", "downlink", "duty_cycle", "energy", "lamp", "light_codec",
    "light_config", "light_node", "lora_link", "lora_net", "measure", "messaging", "outbox",
    "radio_plan", "report_policy", "selftest", "hal/__init__", "hal/bh1750", "hal/ds18b20",
    "hal/esp32", "hal/file_store", "hal/ld2410", "hal/lis3dh", "hal/lora_modem", "hal/pir",
    "hal/pwm_led", "hal/ranger", "hal/tfluna", "hal/ultrasonic", "hal/usb_serial",
]


def old_layout(tmp_path: Path) -> dict[str, bytes]:
    files = {"/main.py": b"# the firmware before the new layout\nimport firmware.config\n"}
    for name in OLD_MODULES:
        src = tmp_path / "old" / f"{name}.py"
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(f"OLD_LAYOUT = {name!r}\n")
        compile_file(src, src.with_suffix(".mpy"), arch=None)
        files[f"/firmware/{name}.mpy"] = src.with_suffix(".mpy").read_bytes()
    return files


def test_deploy_moves_a_node_from_the_old_layout_to_the_new_one(
        tmp_path: Path, gateway: RunningGateway) -> None:
    old = old_layout(tmp_path)
    new = build(Reporter())
    gone = set(old) - set(new)
    assert "/firmware/config.mpy" in gone and "/firmware/hal/bh1750.mpy" in gone
    with VirtualNode(tmp_path / "vn", wifi=WIFI, fill_mm=600, battery_mv=3600) as vn:
        with NodeLink(vn.device) as link:
            assert deploy(link, Reporter(), files=old).copied == len(old)
        out = kvarter(tmp_path, "node", "deploy", "--port", vn.device)
        assert out.returncode == 0, out.stderr
        assert f"{len(gone)} stale removed" in out.stdout
        with NodeLink(vn.device) as link:
            files, dirs = link.tree("/firmware", "/main.py")
        # Exactly the new layout: nothing of the old one left, not even a folder.
        assert files == {p: sha256(d) for p, d in new.items()}
        assert dirs == {d for p in new for d in _parents(p) if d.startswith("/firmware")}
        # And the node runs on it: set up, it reports to a real gateway.
        site = site_file(tmp_path, gateway.port, gateway.db)
        out = kvarter(tmp_path, "node", "setup", "B0043", "--port", vn.device, "--role", "bin",
                      "--lat", str(LAT), "--lon", str(LON), "--site", str(site))
        assert out.returncode == 0, out.stderr + vn.output()[-2000:]
        assert "0 files copied" in out.stdout
        rows = wait_for_report(gateway.db, "B0043")
    assert rows[0][1] is not None and 45 <= rows[0][1] <= 60
