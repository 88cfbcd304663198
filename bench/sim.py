"""A simulated day of the demo district against a real gateway process."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.report import line
from sim.district_day import run_district
from sim.gateway_process import (
    start_gateway_on_free_ports,
    stop_gateway,
    technician_for,
)


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "g.sqlite"
        started = start_gateway_on_free_ports(db)
        gw, port = started.proc, started.port
        try:
            outcome = run_district(("127.0.0.1", port), bins=120, lights=16, hours=24, seed=1,
                                   technician=technician_for(db))
        finally:
            stop_gateway(gw)
    sent = outcome.reports_acked + outcome.reports_failed
    return [
        line("sim.day_of_120_bins_16_lights", outcome.real_seconds, "s", "<", 60),
        line("sim.reports_acked_share", outcome.reports_acked / sent, "of sent", ">=", 1.0),
    ]
