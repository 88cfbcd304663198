"""`kvarter sim run --registered`: a city's own imported bins reporting
through CoAP with simulated fill, as a user with their own file runs it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import RunningGateway, launch_gateway, one_line_error, technician_lines

from gateway.records import Node
from sim.gateway_process import gateway_log_path

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "bins_sample.geojson"
REAL_KEY = "5e" * 16


def kvarter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=600)


def site_for(gw: RunningGateway, tmp_path: Path) -> Path:
    site = tmp_path / "site.toml"
    site.write_text(technician_lines(gw.db))
    site.chmod(0o600)
    return site


def reports_per_node(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT node_id, COUNT(*) FROM bin_reports GROUP BY node_id"))


def test_the_imported_bins_report_protected_and_a_real_node_is_left_alone(
        tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path, oscore="required")
    try:
        site = site_for(gw, tmp_path)
        address = f"127.0.0.1:{gw.port}"
        imported = kvarter("bins", "import", str(SAMPLE), "--prefix", "G",
                           "--gateway", address, "--site", str(site))
        assert "7 bins registered" in imported.stdout, imported.stderr
        # A real node fitted to one imported bin: its first key needs no
        # override, and the simulator must not speak for it.
        gw.register(Node("G0012", "bin", 60.67, 17.14, "240L", key=REAL_KEY))
        out = kvarter("sim", "run", "--registered", "--hours", "4", "--interval", "3600",
                      "--gateway", address, "--site", str(site))
        assert out.returncode == 0, out.stderr
        assert "left to their own nodes 1 bin(s) with a real node's key (G0012)" in out.stdout
        assert "6 bin nodes" in out.stdout
        counts = reports_per_node(gw.db)
        assert sorted(counts) == ["G0001", "G0002", "G0003", "G0004", "G0005", "G0006"]
        assert all(n >= 3 for n in counts.values()), counts
    finally:
        assert gw.stop() == 0
    log = gateway_log_path(gw.db).read_text()
    assert "fits a node with a key to 'G0012', registered without one" in log
    assert "OVERRIDE" not in log


def test_a_gateway_without_bins_gets_one_line_and_a_bad_mix_of_options_too(
        tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path, oscore="required")
    try:
        site = site_for(gw, tmp_path)
        line = one_line_error(kvarter("sim", "run", "--registered", "--gateway",
                                      f"127.0.0.1:{gw.port}", "--site", str(site)))
        assert "has no registered bins" in line and "kvarter bins import" in line
        line = one_line_error(kvarter("sim", "run", "--registered", "--bins", "5",
                                      "--gateway", f"127.0.0.1:{gw.port}", "--site", str(site)))
        assert "leave out --bins and --lights" in line
    finally:
        gw.stop()
