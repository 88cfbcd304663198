"""Deciding what to make of an incoming payload: decode it, check that the
node is known and in the right role. No CoAP and no storage here."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.records import BinRecord, Node, PresenceRecord, StatusRecord

T = TypeVar("T")


class Reason(Enum):
    MALFORMED = "malformed"
    UNKNOWN_NODE = "unknown node"
    WRONG_ROLE = "wrong role"


class Rejected(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Ingest:
    def __init__(self, nodes: dict[str, Node]) -> None:
        self.nodes = nodes

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
        return BinRecord(node_id, report, received_at)

    def presence(self, node_id: str, payload: bytes, received_at: float) -> PresenceRecord:
        event = self._decode(node_id, "light", codec.decode_presence, payload)
        return PresenceRecord(node_id, event, received_at)

    def status(self, node_id: str, payload: bytes, received_at: float) -> StatusRecord:
        status = self._decode(node_id, "light", light_codec.decode_status, payload)
        return StatusRecord(node_id, status, received_at)
