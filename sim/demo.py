"""The demo: a real gateway process serving a simulated district over
loopback CoAP, then a summary of what it stored."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.storage.store import Store
from gateway.storage.summary import format_summary
from sim.district_day import format_outcome, run_district
from sim.gateway_process import free_udp_port, start_gateway, stop_gateway, technician_for


def run_demo(data_dir: Path, bins: int, lights: int, hours: float) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "gateway.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    port = free_udp_port()
    gateway = start_gateway(db, port)
    try:
        outcome = run_district(("127.0.0.1", port), bins, lights, hours, seed=1,
                               technician=technician_for(db))
    finally:
        code = stop_gateway(gateway)
    with Store(db) as store:
        summary = format_summary(store.summary(), db)
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
