"""`kvarter demo` as people start it: live until Ctrl-C, with the web app's
address and an account of every role printed; and `--once` for scripts."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from gateway.accounts import ROLES
from gateway.storage.store import Store
from sim.gateway_process import free_tcp_port

ROOT = Path(__file__).resolve().parents[2]
# A safety net against a demo that never prints its address: not a timing
# the test asserts on.
GIVE_UP_S = 300


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KVARTER_DB"}
    env["PYTHONPATH"] = str(ROOT)
    return env


class Output:
    """The demo's standard output, read as it comes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, end: str) -> str:
        """The lines up to the one holding `end`."""
        text = ""
        while True:
            line = self.lines.get(timeout=GIVE_UP_S)
            assert line is not None, f"the demo ended early: {text}"
            text += line
            if end in line:
                return text

    def rest(self) -> str:
        """The lines after, once the demo has ended."""
        self.thread.join(timeout=GIVE_UP_S)
        text = ""
        while (line := self.lines.get_nowait()) is not None:
            text += line
        return text


def _stop(proc: subprocess.Popen[str], group: bool) -> str:
    """Ctrl-C; the demo's standard error once it has ended."""
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    proc.wait(timeout=GIVE_UP_S)
    assert proc.stderr is not None
    return proc.stderr.read()


def _gateways_of(place: Path) -> list[int]:
    """The gateway processes serving a database under `place`: named there
    in their command line, or started there with a relative path."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                cwd = Path(os.readlink(entry / "cwd"))
            except OSError:
                continue
            if "gateway run" in cmdline and (str(place) in cmdline or cwd == place):
                found.append(int(entry.name))
    return found


def test_the_live_demo_serves_the_web_app_with_an_account_of_each_role_until_ctrl_c(
        tmp_path: Path) -> None:
    port = free_tcp_port()
    # Its own process group, as a terminal runs it: Ctrl-C reaches the demo
    # and its gateway alike.
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", "demo", "--bins", "6", "--lights", "4",
         "--hours", "0.5", "--http-port", str(port)],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        out = Output(proc)
        text = out.until("Ctrl-C")
        url = re.search(r"^web app\s+(http://\S+)/$", text, re.M)
        assert url is not None, text
        health = httpx.get(f"{url.group(1)}/api/v1/health", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.json()["district"] == "Norrmalm"
        accounts = re.findall(r"^  (\w+)\s+user (\S+)\s+password (\S+)", text, re.M)
        assert [a[0] for a in accounts] == list(ROLES)
        for role, user, password in accounts:
            r = httpx.post(f"{url.group(1)}/api/v1/session",
                           json={"username": user, "password": password}, timeout=30)
            assert r.status_code == 200, (role, r.text)
            me = httpx.get(f"{url.group(1)}/api/v1/me", timeout=30,
                           cookies={"kvarter_session": r.cookies["kvarter_session"]})
            assert me.status_code == 200 and me.json()["role"] == role
        assert (tmp_path / "var" / "demo" / "accounts.txt").stat().st_mode & 0o077 == 0
        # While it runs, the commands find its database without --db.
        near = subprocess.run([sys.executable, "-m", "tools.cli", "gateway", "summary", "--json"],
                              cwd=tmp_path, env=_env(), capture_output=True, text=True,
                              timeout=120)
        assert near.returncode == 0, near.stderr
        assert json.loads(near.stdout)["bins"] == 6
        assert "the demo's database var/demo/gateway.sqlite" in near.stderr
        assert _gateways_of(tmp_path)
        err = _stop(proc, group=True)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # Its gateway stopped with it.
    assert _gateways_of(tmp_path) == []


def test_sigint_to_the_demo_alone_stops_its_gateway_too(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", "demo", "--data", str(tmp_path / "d"), "--bins", "3",
         "--lights", "0", "--hours", "0.2", "--http-port", str(free_tcp_port())],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out = Output(proc)
        out.until("Ctrl-C")
        assert _gateways_of(tmp_path)
        err = _stop(proc, group=False)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "demo stopped" in out.rest()
    assert _gateways_of(tmp_path) == []


def test_the_demo_serves_norrmalm_and_its_route_sheet_names_real_streets(
        tmp_path: Path) -> None:
    """Once, in accelerated time: Norrmalm's streets imported, its bins at the
    mapped waste baskets and at addresses, the gateway named after it; the
    plan the demo suggests then puts real places on the sheet, with the
    OpenStreetMap credit."""
    run = subprocess.run(
        [sys.executable, "-m", "tools.cli", "demo", "--once", "--bins", "40", "--lights", "4",
         "--hours", "1"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
        timeout=GIVE_UP_S)
    assert run.returncode == 0, run.stderr
    text = run.stdout
    assert ("district           Norrmalm, Stockholm: 40 bins at real places: 30 of the "
            "district's mapped waste baskets and 10 at street addresses; 4 light poles along "
            "its streets") in text
    assert "© OpenStreetMap contributors, ODbL 1.0" in text
    db = tmp_path / "var" / "demo" / "gateway.sqlite"
    with Store(db) as store:
        streets = store.streets()
        bins = [n for n in store.nodes() if n.role == "bin"]
    assert streets is not None and "norrmalm/streets.geojson" in streets[2]
    assert len(bins) == 40 and sum(1 for b in bins if b.address) == 10
    assert all(59.33 < b.lat < 59.35 and 18.05 < b.lon < 18.09 for b in bins)
    plan = re.search(r"^  \.venv/bin/kvarter (routes plan .*)$", text, re.M)
    assert plan is not None, text
    # Found as the demo's without --config too: its settings name the district.
    args = [a for a in plan.group(1).split() if not a.startswith("--config")
            and not a.endswith("gateway.toml")]
    sheets = subprocess.run(
        [sys.executable, "-m", "tools.cli", *args, "--every-bin", "--time-limit", "1"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=GIVE_UP_S)
    assert sheets.returncode == 0, sheets.stderr
    assert "distances along the streets" in sheets.stdout
    html = (tmp_path / "var" / "demo" / "routes" / "route-sheets.html").read_text()
    assert "<title>Bin routes" in html and "Norrmalm</title>" in html
    # The baskets' places from the streets, the others' addresses.
    assert re.search(r'<td class="p">\w+gatan, (at|\d+ m from) [\w ]+', html)
    assert any(f'<td class="p">{b.address}</td>' in html for b in bins if b.address)
    assert "© OpenStreetMap contributors, ODbL-1.0" in html
    geojson = json.loads((tmp_path / "var" / "demo" / "routes" / "routes.geojson").read_text())
    assert "OpenStreetMap" in geojson["attribution"]
