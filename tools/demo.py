"""The demo: a real gateway process serving a simulated district over
loopback CoAP, then a summary of what it stored."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from gateway.cli import format_summary
from gateway.coap.client import RegistryError, list_nodes
from gateway.storage.store import Store
from sim.cli import format_outcome, run_district


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_log_path(db: Path) -> Path:
    """Where start_gateway() writes the gateway's log: beside its database."""
    return db.with_name(db.stem + ".log")


def start_gateway(db: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """Start `kvarter gateway run` and wait until it answers CoAP. Its log
    goes to a file (a pipe nobody reads would fill and stop the gateway)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    log_path = gateway_log_path(db)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.cli", "gateway", "run", "--port", str(port),
             "--db", str(db), *extra],
            stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            lines = log_path.read_text(errors="replace").strip().splitlines()
            raise RuntimeError(f"gateway exited at start: {lines[-1] if lines else 'no log'}")
        try:
            asyncio.run(list_nodes("127.0.0.1", port, timeout=1.0))
            return proc
        except RegistryError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("gateway did not answer within 20 s") from None


def stop_gateway(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def run_demo(data_dir: Path, bins: int, lights: int, hours: float) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "gateway.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    port = free_udp_port()
    gateway = start_gateway(db, port)
    try:
        outcome = run_district(("127.0.0.1", port), bins, lights, hours, seed=1)
    finally:
        code = stop_gateway(gateway)
    store = Store(db)
    try:
        summary = format_summary(store, db)
    finally:
        store.close()
    shown = os.path.relpath(db)
    return "\n".join([
        f"kvarter demo: a gateway on coap://127.0.0.1:{port} served a simulated district",
        "",
        format_outcome(outcome),
        summary,
        f"gateway exit       {'clean' if code == 0 else f'code {code}'}",
        "",
        "next:",
        f"  .venv/bin/kvarter gateway summary --db {shown}",
        f"  .venv/bin/kvarter gateway nodes --db {shown}",
        f"  .venv/bin/kvarter gateway reports --db {shown} --limit 10",
        "  .venv/bin/kvarter gateway run        # a gateway of your own on port 5683",
        "  .venv/bin/kvarter sim run --gateway 127.0.0.1:5683 --bins 200 --hours 48",
    ])
