"""Deciding what to make of an incoming payload: decode it, check that the
node is known and in the right role. No CoAP and no storage here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import TypeVar

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.records import BinRecord, Node, PresenceRecord, StatusRecord

T = TypeVar("T")

# A report's measured time is believed within these bounds of the gateway's
# clock (GatewayConfig.max_clock_ahead_s, max_report_age_s hold the running
# gateway's). Ahead: a node's clock is set by the gateway (LoRa feedback) or
# NTP, so a few minutes cover drift between settings. Behind: a bin node keeps
# at most 48 reports in flash (firmware/waste/outbox.py, dropping the oldest),
# one at least every heartbeat (4 h by default, firmware/settings.py), so the
# oldest it can still send is 47 heartbeats old: 7.8 days; 10 days leave room
# for a node that was itself without power for a while. A node configured
# with a longer heartbeat needs max_report_age_s raised to match.
MAX_CLOCK_AHEAD_S = 300.0
MAX_REPORT_AGE_S = 10 * 86400.0


class Reason(Enum):
    MALFORMED = "malformed"
    UNKNOWN_NODE = "unknown node"
    WRONG_ROLE = "wrong role"
    BAD_TIME = "time out of bounds"


class Rejected(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _utc(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{t:.0f}"


class Ingest:
    def __init__(self, nodes: dict[str, Node], max_ahead_s: float = MAX_CLOCK_AHEAD_S,
                 max_age_s: float = MAX_REPORT_AGE_S) -> None:
        self.nodes = nodes
        self.max_ahead_s = max_ahead_s
        self.max_age_s = max_age_s

    def _check_time(self, node_id: str, t: float, received_at: float) -> None:
        """A measured time of 0 means the node's clock is unset (the gateway's
        time stands in); any other must lie within the bounds, or the report
        is refused and never stored: one report dated 2106 would otherwise
        become its bin's latest state for good."""
        if not t:
            return
        if t > received_at + self.max_ahead_s:
            raise Rejected(Reason.BAD_TIME,
                           f"measured time {_utc(t)} is ahead of the gateway's clock "
                           f"{_utc(received_at)}: set the node's clock")
        if t < received_at - self.max_age_s:
            raise Rejected(Reason.BAD_TIME,
                           f"measured time {_utc(t)} is more than "
                           f"{self.max_age_s / 86400:g} days old: not stored")

    def _node(self, node_id: str, role: str) -> Node:
        node = self.nodes.get(node_id)
        if node is None:
            raise Rejected(Reason.UNKNOWN_NODE,
                           f"unknown node {node_id!r}: register it with 'kvarter node register'")
        if node.role != role:
            raise Rejected(Reason.WRONG_ROLE,
                           f"node {node_id!r} is registered as a {node.role}, not a {role}")
        return node

    def _decode(self, node_id: str, role: str, decode: Callable[[bytes], T],
                payload: bytes) -> T:
        self._node(node_id, role)
        try:
            return decode(payload)
        except codec.DecodeError as e:
            raise Rejected(Reason.MALFORMED, str(e)) from None

    def bin_report(self, node_id: str, payload: bytes, received_at: float) -> BinRecord:
        report = self._decode(node_id, "bin", codec.decode_bin_report, payload)
        self._check_time(node_id, report.time, received_at)
        return BinRecord(node_id, report, received_at)

    def presence(self, node_id: str, payload: bytes, received_at: float) -> PresenceRecord:
        event = self._decode(node_id, "light", codec.decode_presence, payload)
        self._check_time(node_id, event.time, received_at)
        return PresenceRecord(node_id, event, received_at)

    def status(self, node_id: str, payload: bytes, received_at: float) -> StatusRecord:
        status = self._decode(node_id, "light", light_codec.decode_status, payload)
        self._check_time(node_id, status.time, received_at)
        return StatusRecord(node_id, status, received_at)
