"""The LoRa path's targets: no report lost or stored twice across faults,
duty cycle kept by every transmitter, and delivery for 1,000 bins and 200
light poles on one gateway radio. Each run is the real firmware on a
simulated channel, through the bridge firmware on a pty, to a real gateway."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from bench.report import line
from sim.lora_scenario import STANDARD_FAULTS, ScenarioResult, run_lora_scenario


def _node_worst(result: ScenarioResult) -> float:
    return max((v for k, v in result.audit.worst.items() if k != "bridge"), default=0.0)


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        # Every measurement reported (hourly heartbeat): the most traffic the
        # bins make, and the most to lose.
        faults = run_lora_scenario(Path(tmp) / "faults", bins=60, lights=10, hours=6,
                                   faults=STANDARD_FAULTS, heartbeat_s=3600)
        capacity = run_lora_scenario(Path(tmp) / "capacity", bins=1000, lights=200, hours=3,
                                     heartbeat_s=3600)
        with sqlite3.connect(Path(tmp) / "capacity" / "gateway.sqlite") as conn:
            statuses = conn.execute("SELECT COUNT(*) FROM light_status").fetchone()[0]
    r = faults.reckoning
    on_time, due = capacity.outcome.delivered_within(capacity.outcome.report_interval_s)
    sent = sum(lt.node.status_sent for lt in capacity.outcome.lights)
    return [
        line("lora.reports_lost_across_faults", len(r.lost), "reports", "<=", 0),
        line("lora.reports_stored_twice_across_faults", len(r.stored_twice), "reports", "<=", 0),
        line("lora.duty_cycle_violations", len(faults.audit.violations)
             + len(capacity.audit.violations), "windows", "<=", 0),
        line("lora.duty_cycle_worst_node", max(_node_worst(faults), _node_worst(capacity)),
             "of budget", "<=", 1.0),
        line("lora.duty_cycle_gateway", capacity.audit.worst.get("bridge", 0.0), "of budget",
             "<=", 1.0),
        line("lora.bin_reports_within_period_1000_bins_200_lights", on_time / max(due, 1),
             "of reports", ">=", 0.99),
        line("lora.light_status_delivered_200_lights", statuses / max(sent, 1), "of reports",
             ">=", 0.99),
        line("lora.capacity_run_3h", capacity.outcome.real_seconds, "s", "<", 300),
    ]
