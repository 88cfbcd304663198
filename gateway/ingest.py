"""Deciding what to make of an incoming payload: decode it, check that the
node is known and in the right role. No CoAP and no storage here."""

from __future__ import annotations

from enum import Enum

from firmware import codec, light_codec
from gateway.registry import Node
from gateway.store import BinRecord, PresenceRecord, StatusRecord


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

    def bin_report(self, node_id: str, payload: bytes, received_at: float) -> BinRecord:
        self._node(node_id, "bin")
        try:
            report = codec.decode_bin_report(payload)
        except codec.DecodeError as e:
            raise Rejected(Reason.MALFORMED, str(e)) from None
        return BinRecord(node_id, report, received_at)

    def presence(self, node_id: str, payload: bytes, received_at: float) -> PresenceRecord:
        self._node(node_id, "light")
        try:
            event = codec.decode_presence(payload)
        except codec.DecodeError as e:
            raise Rejected(Reason.MALFORMED, str(e)) from None
        return PresenceRecord(node_id, event, received_at)

    def status(self, node_id: str, payload: bytes, received_at: float) -> StatusRecord:
        self._node(node_id, "light")
        try:
            status = light_codec.decode_status(payload)
        except codec.DecodeError as e:
            raise Rejected(Reason.MALFORMED, str(e)) from None
        return StatusRecord(node_id, status, received_at)
