"""A real gateway as a process of its own on a free loopback port, for the
demo, the simulated scenarios and the benchmarks: `kvarter gateway run`
started, waited for until it says it serves, and stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.security.technician import TechnicianCredential
from gateway.storage.store import Store


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_log_path(db: Path) -> Path:
    """Where start_gateway() writes the gateway's log: beside its database."""
    return db.with_name(db.stem + ".log")


START_GIVE_UP_S = 120.0

# A simulation's nodes live on a virtual clock (days just past, or a fixed
# date in the tests) that runs far faster than the gateway's: its gateway
# accepts their times as they come, and keeps their presence events (dated
# on that clock, they would otherwise age out of presence_keep_days as the
# simulation runs). A gateway serving real nodes keeps its bounds
# (gateway/ingest/decode.py, docs/privacy.md).
VIRTUAL_TIME_ARGS = ("--max-clock-ahead", str(20 * 365 * 86400),
                     "--max-report-age", str(20 * 365 * 86400),
                     "--presence-keep-days", str(20 * 365))


@dataclass
class GatewayProcess:
    """A started gateway: its process and the ports it serves on."""
    proc: subprocess.Popen[bytes]
    port: int
    http_port: int | None


def start_gateway(db: Path, port: int, *extra: str,
                  virtual_time: bool = True) -> subprocess.Popen[bytes]:
    """Start `kvarter gateway run` on this UDP port and wait until it
    serves. Its log goes to a file (a pipe nobody reads would fill and stop
    the gateway). With virtual_time, it takes reports dated on a
    simulation's clock. Its HTTP API listens on a free port unless extra
    names one (--http-port) or turns it off (--no-http): two gateways never
    meet on the default port."""
    return launch(db, port, *extra, virtual_time=virtual_time).proc


def start_gateway_on_free_ports(db: Path, *extra: str,
                                virtual_time: bool = True) -> GatewayProcess:
    """As start_gateway, on ports the system gives the gateway itself (port
    0): no other program can take them between choosing and binding."""
    return launch(db, 0, *extra, virtual_time=virtual_time)


def launch(db: Path, port: int, *extra: str, virtual_time: bool = True) -> GatewayProcess:
    db.parent.mkdir(parents=True, exist_ok=True)
    if "--http-port" not in extra and "--no-http" not in extra:
        extra = (*extra, "--http-port", "0")
    log_path = gateway_log_path(db)
    # The gateway says it serves, and where, in this file: a CoAP answer is
    # no proof (a client socket the system put on the port answers itself).
    ready = db.with_name(db.stem + ".ready")
    ready.unlink(missing_ok=True)
    # The gateway logs to the file itself (rotated, --log-file); what it
    # cannot log (a start-up error) comes on standard error, appended there too.
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with open(fd, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.cli", "gateway", "run", "--port", str(port),
             "--db", str(db), "--log-file", str(log_path), "--ready-file", str(ready),
             # A test, benchmark or demo killed outright leaves no gateway.
             "--parent", str(os.getpid()),
             *(VIRTUAL_TIME_ARGS if virtual_time else ()), *extra],
            stdout=subprocess.DEVNULL, stderr=log)
    # Generous: a gateway loads its libraries in a few seconds, but a machine
    # busy with other work (tests side by side, a benchmark) can take far
    # longer, and a start that is only slow is not a failure.
    deadline = time.monotonic() + START_GIVE_UP_S
    try:
        while True:
            if proc.poll() is not None:
                lines = log_path.read_text(errors="replace").strip().splitlines()
                raise RuntimeError(
                    f"gateway exited at start: {lines[-1] if lines else 'no log'}")
            try:
                ports = json.loads(ready.read_text())
            except (OSError, ValueError):
                ports = None
            if ports is not None:
                return GatewayProcess(proc, int(ports["coap_port"]), ports["http_port"])
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start within {START_GIVE_UP_S:.0f} s")
            time.sleep(0.02)
    except BaseException:
        # Whatever stopped the wait (no answer, Ctrl-C, a caller's event
        # loop), the gateway it started does not live on.
        proc.kill()
        proc.wait()
        raise


def technician_for(db: Path, name: str = "simulator") -> TechnicianCredential:
    """A technician credential for the simulation's own registrations, as
    `kvarter gateway technician add` makes one, in the gateway's database
    (made once, then reused); the laptop side's sequence numbers are kept
    beside the database. Works whether the gateway runs or not."""
    with Store(db) as store:
        row = next((t for t in store.technicians() if t.name == name and t.secret), None) \
            or store.add_technician(name)
    assert row.secret is not None
    return TechnicianCredential(row.name, row.kid, bytes.fromhex(row.secret),
                                state_dir=db.with_name(db.stem + "-technician"))


def stop_gateway(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
