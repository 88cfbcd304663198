"""A LoRa district against a real gateway process: the gateway is started with
its radio on the simulator's pty, the district is registered over CoAP, the
simulation runs (with faults if asked), and every report is reckoned from the
node's sensor to the gateway's database."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.coap.client import register_nodes
from gateway.lighting.zones import Zone
from gateway.storage.store import Store
from sim.district import build, node_key
from sim.gateway_process import (
    free_udp_port,
    gateway_log_path,
    start_gateway,
    stop_gateway,
    technician_for,
)
from sim.lora_channel import DutyAudit
from sim.lora_runner import Fault, LoraOutcome, LoraSimulation, Reckoning, reckon

DISTRICT_WIDTH_M = 1000.0  # the bins' grid (sim/district.py)


class ManagedGateway:
    """The gateway process, stopped and started again for the outage fault."""

    def __init__(self, db: Path, radio: Path) -> None:
        self.db = db
        self.radio = radio
        self.port = free_udp_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_codes: list[int] = []

    def start(self) -> None:
        self.proc = start_gateway(self.db, self.port, "--radio", str(self.radio))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.exit_codes.append(stop_gateway(self.proc))

    def crash(self) -> None:
        """Killed without a clean stop: no replay window is written, so
        every node proves its next request fresh (OSCORE's Echo)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.exit_codes.append(self.proc.wait())


@dataclass(frozen=True)
class ScenarioResult:
    outcome: LoraOutcome
    reckoning: Reckoning
    audit: DutyAudit
    gateway_log: str
    gateway_exits: list[int]


def run_lora_scenario(work: Path, bins: int, lights: int, hours: float, *,
                      faults: Sequence[Fault] = (), seed: int = 1,
                      heartbeat_s: int | None = None, oscore: bool = True) -> ScenarioResult:
    """oscore: the nodes registered with their keys and given their kids, as
    provisioning does, so that every frame both ways is protected."""
    work.mkdir(parents=True, exist_ok=True)
    db = work / "gateway.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    gateway_log_path(db).unlink(missing_ok=True)
    # The poles' street folds within the district's square kilometre: a
    # district on one radio, not a street running out of its reach.
    district = build(bins, lights, hours, seed=seed, street_fold_m=DISTRICT_WIDTH_M)
    # The days just past, from midnight UTC: reports carry real dates.
    start = (int(time.time()) // 86400 - math.ceil(hours / 24) - 1) * 86400
    if district.poles:
        # The poles' street, for the gateway's light wave: its commands go
        # over the air too, within the same downlink budget.
        store = Store(db)
        try:
            store.save_streets(json.dumps({"type": "FeatureCollection", "features": [{
                "type": "Feature", "properties": {"name": "street-1"},
                "geometry": {"type": "LineString",
                             "coordinates": [[p.lon, p.lat] for p in district.poles]}}]}),
                "simulated district")
            # The gateway decides in real time and the district runs in
            # virtual time: the zone is lit at any hour, as the night it
            # simulates.
            store.save_zone("street-1", Zone("street-1", hours="always").to_json(),
                            "simulator", [], 0)
        finally:
            store.close()
    gateway = ManagedGateway(db, work / "radio")
    try:
        gateway.start()
        kids: dict[str, str] = {}
        asyncio.run(register_nodes("127.0.0.1", gateway.port, district.nodes(keyed=oscore),
                                   kids=kids, technician=technician_for(db)))
        sim = LoraSimulation(district, work / "radio", hours, start, seed=seed,
                             gateway=gateway, faults=faults, heartbeat_s=heartbeat_s,
                             keys={n: (node_key(n), kid) for n, kid in kids.items()})
    except BaseException:
        gateway.stop()
        raise
    try:
        outcome = sim.run()
    finally:
        gateway.stop()
        sim.close()
    return ScenarioResult(outcome, reckon(outcome, db), outcome.channel.duty_audit(),
                          gateway_log_path(db).read_text(errors="replace"),
                          gateway.exit_codes)


# The faults of the no-loss target, in one six-hour run.
STANDARD_FAULTS = (
    Fault("gateway down", at_h=1.0, minutes=60),
    Fault("reboot", at_h=2.2, count=3),
    Fault("radio unplugged", at_h=3.0, minutes=20),
    Fault("interference", at_h=4.0, minutes=5),
    Fault("gateway crash", at_h=5.0, minutes=10),
)
