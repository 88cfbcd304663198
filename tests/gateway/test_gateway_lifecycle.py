"""Starting, stopping and misconfiguring the gateway, as an operator would."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import launch_gateway, one_line_error, technician_lines

from firmware import codec
from gateway.config import GatewayConfig, GatewayConfigError
from gateway.records import BinRecord, Node
from gateway.storage.store import Store
from sim.gateway_process import gateway_log_path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_gateway_stops_cleanly_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    gw = launch_gateway(tmp_path)
    gw.register(Node("B1", "bin", 60.0, 17.0))
    gw.proc.send_signal(sig)
    assert gw.proc.wait(timeout=15) == 0
    err = gateway_log_path(gw.db).read_text()
    assert "Traceback" not in err
    assert "gateway stopped" in err
    # The database is whole and readable after the stop.
    with sqlite3.connect(gw.db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT node_id FROM nodes").fetchall() == [("B1",)]


def kvarter(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd)


@pytest.mark.parametrize("toml, expect", [
    ("[gateway]\nport = 70000\n", "port must be"),
    ("[gateway]\nprot = 5683\n", "unknown setting(s) in [gateway]: prot"),
    ("[gateway]\nadmin_networks = ['10.0.0.300/8']\n", "admin_networks"),
    ("[gateway\n", "not valid TOML"),
])
def test_bad_config_gets_one_line(tmp_path: Path, toml: str, expect: str) -> None:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(toml)
    assert expect in one_line_error(kvarter("gateway", "run", "--config", str(cfg)))


def test_missing_config_file_and_missing_data_get_one_line(tmp_path: Path) -> None:
    assert "does not exist" in one_line_error(
        kvarter("gateway", "run", "--config", str(tmp_path / "nope.toml")))
    assert "no gateway data" in one_line_error(
        kvarter("gateway", "summary", "--db", str(tmp_path / "none.sqlite")))


def test_port_in_use_gets_one_line(tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path)
    try:
        line = one_line_error(kvarter("gateway", "run", "--port", str(gw.port), "--db",
                                      str(tmp_path / "other.sqlite")))
        assert "cannot listen" in line and "--port" in line
    finally:
        gw.stop()


def test_port_0_serves_on_the_port_the_ready_file_names_until_the_stop(tmp_path: Path) -> None:
    # What a supervisor or a script relies on: the file appears once the
    # gateway serves, names the ports it got, and goes when it stops.
    gw = launch_gateway(tmp_path)  # --port 0 and --http-port 0, waiting for the file
    ready = tmp_path / "gateway.ready"
    assert json.loads(ready.read_text()) == {"coap_port": gw.port, "http_port": gw.http_port}
    gw.register(Node("B1", "bin", 60.0, 17.0))
    assert httpx.get(f"{gw.http_url}/api/openapi.json", timeout=10).status_code == 200
    assert gw.stop() == 0
    assert not ready.exists()
    assert f"listening on coap://127.0.0.1:{gw.port}," in gateway_log_path(gw.db).read_text()


def test_unwritable_ready_file_gets_one_line_and_stops_the_gateway(tmp_path: Path) -> None:
    line = one_line_error(kvarter("gateway", "run", "--port", "0", "--http-port", "0",
                                  "--db", str(tmp_path / "g.sqlite"),
                                  "--ready-file", str(tmp_path / "no" / "such" / "r.json")))
    assert "cannot write the ready file" in line


def test_a_script_killed_outright_leaves_no_gateway_behind(tmp_path: Path) -> None:
    # A demo, simulator or test that starts a gateway and is then killed
    # with SIGKILL (a CI timeout, kill -9) had no chance to stop it.
    script = tmp_path / "starter.py"
    script.write_text(
        "import sys, time\n"
        "from pathlib import Path\n"
        "from sim.gateway_process import start_gateway_on_free_ports\n"
        "started = start_gateway_on_free_ports(Path(sys.argv[1]))\n"
        "print(started.proc.pid, flush=True)\n"
        "time.sleep(600)\n")
    starter = subprocess.Popen([sys.executable, str(script), str(tmp_path / "g.sqlite")],
                               stdout=subprocess.PIPE, text=True, cwd=Path.cwd(),
                               env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    try:
        assert starter.stdout is not None
        gateway_pid = int(starter.stdout.readline())
        assert (tmp_path / "g.ready").exists()
    finally:
        starter.kill()
        starter.wait()
    # The gateway stops as at SIGTERM: cleanly, its ready file removed.
    for _ in range(600):
        if not _alive(gateway_pid):
            break
        time.sleep(0.1)
    else:
        os.kill(gateway_pid, signal.SIGKILL)
        raise AssertionError("the gateway outlived the script that started it")
    assert not (tmp_path / "g.ready").exists()
    assert "gateway stopped" in gateway_log_path(tmp_path / "g.sqlite").read_text()


def _alive(pid: int) -> bool:
    # Reparented, the gateway is reaped by init once it exits; a zombie
    # left meanwhile counts as ended.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_parent_that_did_not_start_the_gateway_gets_one_line(tmp_path: Path) -> None:
    line = one_line_error(kvarter("gateway", "run", "--port", "0", "--no-http",
                                  "--db", str(tmp_path / "g.sqlite"), "--parent", "1"))
    assert "--parent 1" in line and "did not start this gateway" in line


def site_with_credential(tmp_path: Path, db: Path) -> Path:
    site = tmp_path / "site.toml"
    site.write_text(technician_lines(db))
    site.chmod(0o600)
    return site


def test_registering_with_an_unreachable_gateway_gets_one_line(tmp_path: Path) -> None:
    site = site_with_credential(tmp_path, tmp_path / "elsewhere.sqlite")
    line = one_line_error(kvarter("node", "register", "B1", "--role", "bin", "--lat", "60",
                                  "--lon", "17", "--gateway", "127.0.0.1:9",
                                  "--site", str(site)))
    assert "did not answer" in line


def test_register_and_list_nodes_through_the_cli(tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path)
    site = site_with_credential(tmp_path, gw.db)
    try:
        out = kvarter("node", "register", "L0003", "--role", "light", "--lat", "60.5",
                      "--lon", "17.2", "--kind", "street-1", "--gateway", f"127.0.0.1:{gw.port}",
                      "--site", str(site))
        assert out.returncode == 0 and "registered" in out.stdout
        assert "by technician 'field'" in gateway_log_path(gw.db).read_text()
        bad = kvarter("node", "register", "L0003", "--role", "light", "--lat", "160",
                      "--lon", "17.2", "--gateway", f"127.0.0.1:{gw.port}", "--site", str(site))
        assert "lat must be" in one_line_error(bad)
    finally:
        gw.stop()
    listing = kvarter("gateway", "nodes", "--db", str(gw.db))
    assert "L0003" in listing.stdout and "street-1" in listing.stdout
    assert "no bin reports stored yet" in one_line_error(
        kvarter("gateway", "reports", "--db", str(gw.db)))


def test_admin_networks_decide_who_may_register() -> None:
    cfg = GatewayConfig(admin_networks=["10.20.0.0/16"])
    assert cfg.admin_allowed("10.20.3.4")
    assert cfg.admin_allowed("::ffff:10.20.3.4")
    assert not cfg.admin_allowed("127.0.0.1")
    with pytest.raises(GatewayConfigError):
        GatewayConfig(district="a/b")


def test_the_districts_name_for_people_is_one_line() -> None:
    assert GatewayConfig(district_name="Östra Norrmalm, Stockholm").district_name \
        == "Östra Norrmalm, Stockholm"
    for bad in ("two\nlines", "x" * 121, 7):
        with pytest.raises(GatewayConfigError, match="district_name must be one line"):
            GatewayConfig(district_name=bad)  # type: ignore[arg-type]


def test_store_uses_wal_and_keeps_a_report_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.sqlite")
    store.register(Node("B1", "bin", 60.0, 17.0))
    rec = BinRecord("B1", codec.BinReport(1, 1_790_000_000, 10.0), 1_790_000_001.0)
    assert store.insert([rec, rec]) == [True, False]
    assert store.insert([rec]) == [False]
    store.close()
    with sqlite3.connect(tmp_path / "g.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM bin_reports").fetchone()[0] == 1


def test_report_without_node_time_is_stamped_with_arrival(tmp_path: Path) -> None:
    rec = BinRecord("B1", codec.BinReport(1, 0, 10.0), 1_790_000_123.7)
    assert rec.measured_at == 1_790_000_123


def test_demo_command_prints_the_summary(tmp_path: Path) -> None:
    out = kvarter("demo", "--once", "--data", str(tmp_path), "--bins", "12", "--lights", "4",
                  "--hours", "3")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "bin reports acked  36 (gave up on 0)" in text
    assert "nodes seen         16" in text
    assert "gateway exit       clean" in text
    assert "gateway.sqlite" in text
    recent = kvarter("gateway", "reports", "--db", str(tmp_path / "gateway.sqlite"),
                     "--limit", "3")
    assert recent.returncode == 0
    assert len(recent.stdout.splitlines()) == 4  # a header and three reports
    assert "%" in recent.stdout and " V" in recent.stdout
