"""The virtual node is a node to the real mpremote: MicroPython's REPL on a
serial device (a pty that looks like a USB adapter, or a TCP socket), files
that stay, Ctrl-C that stops a running program, resets that boot main.py;
and the unchanged firmware, copied onto it as a technician does, reports to
a real gateway process over its simulated Wi-Fi."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import RunningGateway

from gateway.records import Node
from sim.district import DEFAULT_CENTRE
from sim.virtual_node import VirtualNode
from tools.firmware_build import ENTRY, FIRMWARE_DIR, compile_file, read_manifest

WIFI = {"city-iot": "secret"}


def mpremote(device: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", device, *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[VirtualNode]:
    with VirtualNode(tmp_path / "node") as vn:
        yield vn


@pytest.mark.parametrize("serial", ["pty", "socket"])
def test_a_new_node_waits_at_the_prompt_and_runs_what_it_is_given(
        tmp_path: Path, serial: str) -> None:
    with VirtualNode(tmp_path / "node", serial=serial) as vn:
        assert vn.wait_for(">>> ").rstrip().endswith(">>>")  # no main.py: the REPL
        r = mpremote(vn.device, "exec", "import os; print(6 * 7, os.uname().machine)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "42 Virtual with ESP32"
    assert "POWERON_RESET" in vn.output()


def test_kvarter_sim_node_serves_a_node_until_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", "sim", "node", "--serial", "socket",
         "--dir", str(tmp_path / "vnode")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert proc.stdout is not None
        device = proc.stdout.readline().strip()
        assert device.startswith("socket://127.0.0.1:")
        r = mpremote(device, "exec", "print('hello from', __import__('os').uname().sysname)")
        assert r.stdout.strip() == "hello from esp32", r.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "Traceback" not in err


def test_copied_files_are_listed_hash_alike_and_stay_across_resets(
        node: VirtualNode, tmp_path: Path) -> None:
    data = os.urandom(3000)
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "main.py").write_text("import machine\nprint('booted', machine.reset_cause())\n")
    r = mpremote(node.device, "fs", "mkdir", ":logs", "+",
                 "fs", "cp", str(tmp_path / "data.bin"), ":logs/data.bin", "+",
                 "fs", "cp", str(tmp_path / "main.py"), ":main.py", "+",
                 "fs", "ls", ":logs", "+", "fs", "sha256sum", ":logs/data.bin", "+", "reset")
    assert r.returncode == 0, r.stderr
    assert "3000 data.bin" in " ".join(r.stdout.split())
    assert hashlib.sha256(data).hexdigest() in r.stdout
    # machine.reset(): the node boots main.py, its files still there.
    node.wait_for("booted 5")  # machine.SOFT_RESET, as after esp_restart()
    r = mpremote(node.device, "fs", "sha256sum", ":logs/data.bin", "+",
                 "fs", "rm", ":logs/data.bin", "+", "fs", "ls", ":logs")
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(data).hexdigest() in r.stdout
    assert "data.bin" not in r.stdout.split("ls :logs")[1]
    r = mpremote(node.device, "fs", "rm", ":logs/data.bin")
    assert r.returncode != 0 and "No such file" in r.stderr


def test_ctrl_c_stops_a_running_program(node: VirtualNode, tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        "import time\nn = 0\nwhile True:\n    n += 1\n    print('tick', n)\n"
        "    time.sleep_ms(20)\n")
    assert mpremote(node.device, "fs", "cp", str(tmp_path / "main.py"), ":main.py",
                    "+", "reset").returncode == 0
    node.wait_for("tick 10")
    # `resume`: no soft reset, so main.py's variables are still there.
    r = mpremote(node.device, "resume", "exec", "print('stopped at', n > 10)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "stopped at True"
    assert re.search(r'File "main.py", line \d, in <module>\r\nKeyboardInterrupt', node.output())
    # A loop that never sleeps nor prints is stopped as well.
    assert mpremote(node.device, "exec", "--no-follow", "x = 0\nwhile True:\n    x += 1\n"
                    ).returncode == 0
    r = mpremote(node.device, "resume", "exec", "print('counted', x > 0)")
    assert r.stdout.strip() == "counted True", r.stderr


# --- the firmware on the virtual node --------------------------------------------
@pytest.fixture(scope="module")
def firmware_mpy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The firmware package as .mpy files (bytecode: the ESP32's and the
    VM's alike), as the manifest names them, without main.py, which goes to
    the node's root as source."""
    out = tmp_path_factory.mktemp("build")
    sources = [f for f in read_manifest() if f.path != ENTRY]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda f: compile_file(
            f.source, out / Path(f.path).with_suffix(".mpy"), arch=None), sources))
    return out / "firmware"


def deploy(vn: VirtualNode, firmware: Path, config: dict[str, object], tmp_path: Path) -> None:
    """What a technician does: firmware, main.py and config.json on, then reset."""
    (tmp_path / "config.json").write_text(json.dumps(config))
    r = mpremote(vn.device, "fs", "cp", "-r", str(firmware), ":", "+",
                 "fs", "cp", str(FIRMWARE_DIR / "main.py"), ":main.py", "+",
                 "fs", "cp", str(tmp_path / "config.json"), ":config.json", "+", "reset")
    assert r.returncode == 0, r.stderr


def bin_config(node_id: str, gateway: RunningGateway, password: str) -> dict[str, object]:
    return {"id": node_id, "role": "bin", "gateway_host": "127.0.0.1",
            "gateway_port": gateway.port, "wifi_ssid": "city-iot", "wifi_password": password,
            "measure_interval_s": 600, "empty_mm": 1000, "full_mm": 150}


def stored(db: Path, min_fill: float = 0, timeout: float = 20
           ) -> list[tuple[str, int, float, int]]:
    """The bin reports in the gateway's database, once one is at least
    min_fill full (or the timeout has passed)."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT node_id, seq, fill_pct, battery_mv FROM bin_reports "
                                "ORDER BY id").fetchall()
        if any(r[2] is not None and r[2] >= min_fill for r in rows) \
                or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_a_bin_node_with_the_real_firmware_reports_to_the_gateway(
        gateway: RunningGateway, firmware_mpy: Path, tmp_path: Path) -> None:
    gateway.register(Node("VB0001", "bin", *DEFAULT_CENTRE))
    # A wake every 10 min, each deep sleep cut to half a second.
    with VirtualNode(tmp_path / "node", wifi=WIFI, fill_mm=600, battery_mv=3600,
                     max_sleep_s=0.5) as vn:
        deploy(vn, firmware_mpy, bin_config("VB0001", gateway, "secret"), tmp_path)
        rows = stored(gateway.db)
        assert len(rows) == 1, vn.output()[-1500:]
        node_id, seq, fill, mv = rows[0]
        # 600 mm down to the rubbish in a bin 1000 mm deep, 150 mm when full.
        assert node_id == "VB0001" and abs(fill - 400 / 850 * 100) < 0.6 and mv == 3600
        # The bin fills past its threshold: a later wake reports that, its
        # sequence carried in RTC memory through the deep sleeps between.
        vn.set(fill_mm=200)
        rows = stored(gateway.db, min_fill=90)
        assert abs(rows[-1][2] - 800 / 850 * 100) < 0.6, vn.output()[-1500:]
        assert [r[1] for r in rows] == [(seq + i) & 0xFFFF for i in range(len(rows))]
        assert "rst:0x5 (DEEPSLEEP_RESET)" in vn.output()
    assert gateway.stop() == 0


def test_a_wrong_wifi_password_stores_nothing_and_the_node_says_why(
        gateway: RunningGateway, firmware_mpy: Path, tmp_path: Path) -> None:
    gateway.register(Node("VB0002", "bin", *DEFAULT_CENTRE))
    # The node's clock runs ten times fast: its 15 s wait for Wi-Fi takes 1.5 s.
    with VirtualNode(tmp_path / "node", wifi=WIFI, clock_scale=10) as vn:
        deploy(vn, firmware_mpy, bin_config("VB0002", gateway, "wrong"), tmp_path)
        out = vn.wait_for("no Wi-Fi", timeout=20)
    assert "queued (1 waiting): no Wi-Fi" in out
    assert stored(gateway.db, timeout=0) == []
