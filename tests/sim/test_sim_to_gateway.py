"""A simulated district, running the real firmware, reports to a real gateway
process over loopback UDP: every report a node saw acknowledged is in SQLite,
exactly once."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections import Counter
from pathlib import Path

from conftest import RunningGateway, launch_gateway

from firmware import codec
from gateway.coap.client import register_nodes
from sim.district import build
from sim.gateway_process import start_gateway, stop_gateway
from sim.runner import Simulation

START = 1_790_000_000 // 86400 * 86400


def test_acknowledged_reports_are_stored_once_each(gateway: RunningGateway) -> None:
    district = build(bins=25, lights=6, hours=6, seed=3)
    gateway.register(*district.nodes())
    outcome = Simulation(district, gateway.addr, hours=6, start_unix=START,
                         report_interval_s=900, seed=3).run()
    assert gateway.stop() == 0

    sent = Counter((b.sim_bin.node_id, seq, t) for b in outcome.bins for seq, t in b.acked)
    with sqlite3.connect(gateway.db) as conn:
        stored = Counter(conn.execute(
            "SELECT node_id, seq, measured_at FROM bin_reports").fetchall())
        presence = conn.execute("SELECT COUNT(*) FROM presence_events").fetchone()[0]
    # 25 bins, a report every 15 minutes for 6 hours.
    assert sum(sent.values()) == 25 * 24
    assert outcome.reports_failed == 0
    assert stored == sent
    assert max(stored.values()) == 1
    assert presence == outcome.presence_sent > 0


def test_measured_fill_follows_the_simulated_bin(gateway: RunningGateway) -> None:
    district = build(bins=3, lights=0, hours=12, seed=5)
    gateway.register(*district.nodes())
    Simulation(district, gateway.addr, hours=12, start_unix=START, seed=5).run()
    gateway.stop()
    with sqlite3.connect(gateway.db) as conn:
        rows = conn.execute(
            "SELECT node_id, measured_at, fill_pct FROM bin_reports").fetchall()
    assert len(rows) == 3 * 12
    by_id = {b.node_id: b for b in district.bins}
    for node_id, measured_at, fill in rows:
        truth = by_id[node_id].fill_at((measured_at - START) / 3600)
        # Half-percent resolution on the wire plus a few millimetres of noise.
        assert abs(fill - truth) < 2.5, (node_id, measured_at, fill, truth)


def test_nodes_report_again_once_the_gateway_is_back(tmp_path, gateway: RunningGateway) -> None:
    district = build(bins=4, lights=0, hours=3, seed=8)
    gateway.register(*district.nodes())
    gateway.stop()
    sim = Simulation(district, gateway.addr, hours=3, start_unix=START, seed=8,
                     answer_wait_s=0.05)
    sim.run_until(1.0)  # the first hour with the gateway down
    restarted = start_gateway(gateway.db, gateway.port, "--oscore", "optional")
    try:
        outcome = sim.run()
    finally:
        assert stop_gateway(restarted) == 0
    # Each node's report of the first hour got no answer (CoAP's
    # retransmissions ran out, and the node said so in its log); it stayed in
    # the node's queue in flash and went first, at the next wake, before that
    # wake's own report. Nothing was lost and nothing stored twice.
    assert outcome.reports_failed == 0
    assert outcome.reports_acked == 4 * 3
    assert all("queued (1 waiting)" in " ".join(b.hal.lines) for b in outcome.bins)
    for b in outcome.bins:
        times = [t for _, t in b.acked]
        assert times == sorted(times), b.acked
    with sqlite3.connect(gateway.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM bin_reports").fetchone()[0] == 12


def test_nodes_on_their_own_report_policy_report_less_and_crossings_at_once(
        gateway: RunningGateway) -> None:
    # The nodes' default policy: hourly measurements, a 4-hour heartbeat and
    # at once when the level crosses the threshold (80 %).
    district = build(bins=20, lights=0, hours=24, seed=3)
    gateway.register(*district.nodes())
    outcome = Simulation(district, gateway.addr, hours=24, start_unix=START, seed=3,
                         heartbeat_s=14400).run()
    assert gateway.stop() == 0
    assert outcome.measurements == 20 * 24
    assert outcome.reports_failed == 0
    # A boot report and five more heartbeats in the day, plus the events.
    assert 20 * 6 <= outcome.reports_acked < outcome.measurements / 2
    with sqlite3.connect(gateway.db) as conn:
        rows = conn.execute("SELECT node_id, measured_at, fill_pct, flags "
                            "FROM bin_reports ORDER BY measured_at").fetchall()
    assert len(rows) == outcome.reports_acked
    by_id = {b.node_id: b for b in district.bins}
    crossings = 0
    for node_id, b in by_id.items():
        mine = [r for r in rows if r[0] == node_id]
        assert mine[0][3] & codec.BIN_FLAG_BOOT
        over = [r for r in mine if r[3] & codec.BIN_FLAG_THRESHOLD]
        if over and not mine[0][3] & codec.BIN_FLAG_THRESHOLD:
            # The first report over the threshold came within the hour in
            # which the simulated bin crossed it (give or take the sensor's
            # few millimetres of noise).
            crossings += 1
            h = (over[0][1] - START) / 3600
            assert b.fill_at(h) > 78.5 and b.fill_at(h - 1) < 81.5, (node_id, h)
    assert crossings >= 5


def test_a_district_speaking_oscore_is_stored_by_a_gateway_that_requires_it(
        tmp_path: Path) -> None:
    # The gateway refuses anything unprotected: every report stored went
    # protected by the real firmware's OSCORE and was unprotected by aiocoap's.
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[gateway]\noscore = "required"\n')
    gw = launch_gateway(tmp_path, "--config", str(cfg))
    try:
        district = build(bins=12, lights=4, hours=4, seed=11)
        kids: dict[str, str] = {}
        asyncio.run(register_nodes("127.0.0.1", gw.port, district.nodes(keyed=True),
                                   kids=kids, technician=gw.technician))
        assert len(kids) == 16 and len(set(kids.values())) == 16
        outcome = Simulation(district, gw.addr, hours=4, start_unix=START,
                             report_interval_s=900, seed=11, kids=kids).run()
    finally:
        assert gw.stop() == 0
    assert all(d.node.uplink.oscore is not None for d in outcome.lights)
    sent = Counter((b.sim_bin.node_id, seq, t) for b in outcome.bins for seq, t in b.acked)
    assert sum(sent.values()) == 12 * 16 and outcome.reports_failed == 0
    with sqlite3.connect(gw.db) as conn:
        stored = Counter(conn.execute(
            "SELECT node_id, seq, measured_at FROM bin_reports").fetchall())
        presence = conn.execute("SELECT COUNT(*) FROM presence_events").fetchone()[0]
        status = conn.execute("SELECT COUNT(*) FROM light_status").fetchone()[0]
    assert stored == sent
    assert presence == outcome.presence_sent > 0
    assert status > 0


def test_after_a_gateway_crash_the_nodes_answer_its_echo_challenge(tmp_path: Path) -> None:
    # The gateway killed without a clean stop forgets the replay windows: the
    # next protected report from each node draws a protected 4.01 with Echo,
    # the node makes its report again with the Echo inside, and it is stored.
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[gateway]\noscore = "required"\n')
    gw = launch_gateway(tmp_path, "--config", str(cfg))
    restarted = None
    try:
        district = build(bins=4, lights=3, hours=3, seed=12)
        kids: dict[str, str] = {}
        asyncio.run(register_nodes("127.0.0.1", gw.port, district.nodes(keyed=True),
                                   kids=kids, technician=gw.technician))
        sim = Simulation(district, gw.addr, hours=3, start_unix=START, seed=12, kids=kids)
        sim.run_until(1.0)
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait()
        restarted = start_gateway(gw.db, gw.port, "--config", str(cfg))
        outcome = sim.run()
    finally:
        if restarted is not None:
            assert stop_gateway(restarted) == 0
        elif gw.proc.poll() is None:
            gw.stop()
    assert outcome.reports_failed == 0 and outcome.reports_acked == 4 * 3
    assert all("(Echo)" in " ".join(b.hal.lines) for b in outcome.bins)
    sent = Counter((b.sim_bin.node_id, seq, t) for b in outcome.bins for seq, t in b.acked)
    with sqlite3.connect(gw.db) as conn:
        stored = Counter(conn.execute(
            "SELECT node_id, seq, measured_at FROM bin_reports").fetchall())
        presence = conn.execute("SELECT COUNT(*) FROM presence_events").fetchone()[0]
    assert stored == sent
    # The poles' presence events (non-confirmable) answer the challenge too:
    # every event stored, the first after the crash on its second try.
    assert presence == outcome.presence_sent > 0
    assert any("(Echo)" in " ".join(d.hal.lines) for d in outcome.lights)
