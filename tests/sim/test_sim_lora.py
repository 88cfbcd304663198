"""Bins and light poles report over a simulated LoRa channel, through the
firmware's radio bridge on a real pty, to a real gateway process reading it
with its own serial code. Every report is counted from the node's sensor to
the gateway's database, across the faults a city network meets."""

from __future__ import annotations

from pathlib import Path

from sim.lora_scenario import STANDARD_FAULTS, run_lora_scenario


def test_no_report_lost_or_stored_twice_across_outage_crash_unplug_reboots_and_interference(
        tmp_path: Path) -> None:
    result = run_lora_scenario(tmp_path, bins=12, lights=3, hours=6, faults=STANDARD_FAULTS,
                               heartbeat_s=3600)
    r = result.reckoning
    # Every measurement was a report (hourly heartbeat): 12 bins x 6 hours,
    # and one more from each node that lost power (its boot report).
    assert r.created == 12 * 6 + 3
    assert r.lost == []
    assert r.stored_twice == []
    assert r.refused == 0
    # Reports of the last hour may still wait in a node's flash; none older.
    assert r.stored + r.queued == r.created
    assert r.queued <= 12
    # The faults happened: the gateway was stopped and started, nodes lost
    # power mid-send, the radio was pulled out and the gateway found it again,
    # the gateway was killed and started again.
    assert sum(b.reboots for b in result.outcome.bins) == 3
    assert "radio on" in result.gateway_log and " back" in result.gateway_log
    assert result.gateway_exits == [0, -9, 0]
    # Every node spoke OSCORE, over the air both ways: after the crash the
    # gateway had lost its replay windows, and the nodes proved their next
    # requests fresh (Echo) without a report lost; nothing failed to verify.
    radio = result.gateway_log.splitlines()
    radio_line = next(ln for ln in reversed(radio) if "radio: {" in ln)
    assert "'lora:oscore: Echo asked'" in radio_line
    assert "not verified" not in radio_line and "replay" not in radio_line
    assert any("proof of freshness" in ln for b in result.outcome.bins for ln in b.hal.lines)
    for b in result.outcome.bins:
        assert b.cfg.kid is not None
    assert result.outcome.channel.stats["jammed"] > 0 or result.outcome.channel.stats["cut"] > 0
    # Reports that waited out the outage went in the order they were measured.
    for b in result.outcome.bins:
        acked = sorted(b.acked, key=lambda k: b.acked[k])
        assert [t for _, t in acked] == sorted(t for _, t in acked)


def test_no_transmitter_exceeds_its_duty_cycle(tmp_path: Path) -> None:
    result = run_lora_scenario(tmp_path, bins=12, lights=3, hours=3, faults=STANDARD_FAULTS[:1],
                               heartbeat_s=3600)
    audit = result.audit
    assert audit.violations == []
    assert audit.transmissions > 12 * 3
    assert "bridge" in audit.worst
    assert max(audit.worst.values()) <= 1.0
