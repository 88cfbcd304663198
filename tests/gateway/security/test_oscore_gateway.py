"""A running gateway with OSCORE required: a node's report protected with its
provisioned key is stored; an unprotected one, one protected with another
key, one protected with another node's context, and a replay are refused and
stored nowhere. The node's side here is aiocoap's own OSCORE client."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiocoap
import aiocoap.oscore
from aiocoap.numbers.codes import Code
from oscore_support import KEY, NodeSide, kid_of, oscore_gateway, post, raw_report, send_raw, stored

from gateway.records import Node


def test_only_reports_protected_with_the_nodes_own_context_are_stored(tmp_path: Path) -> None:
    gw = oscore_gateway(tmp_path)
    try:
        gw.register(Node("B1", "bin", 60.0, 17.0, key=KEY.hex()),
                    Node("B2", "bin", 60.0, 17.0, key=bytes(range(16)).hex()))
        kid1, kid2 = kid_of(gw.db, "B1"), kid_of(gw.db, "B2")
        assert kid1 != kid2 and len(kid1) == 1
        node = NodeSide(kid1, KEY)
        assert asyncio.run(post(gw, "B1", 1, node)) == Code.CHANGED
        assert asyncio.run(post(gw, "B1", 2, None)) == Code.UNAUTHORIZED
        assert asyncio.run(post(gw, "B1", 3, NodeSide(kid1, bytes(16)))) \
            == "unprotected answer 4.00 Bad Request"
        # B2's context cannot speak for B1.
        assert asyncio.run(post(gw, "B1", 4, NodeSide(kid2, bytes(range(16))))) \
            == Code.UNAUTHORIZED
        assert stored(gw.db) == [("B1", 1)]
    finally:
        assert gw.stop() == 0


def test_a_recorded_report_replayed_is_refused_before_and_after_a_restart(
        tmp_path: Path) -> None:
    gw = oscore_gateway(tmp_path)
    try:
        gw.register(Node("B1", "bin", 60.0, 17.0, key=KEY.hex()))
        node = NodeSide(kid_of(gw.db, "B1"), KEY)
        recorded = raw_report(node, 7)
        first = aiocoap.Message.decode(send_raw(gw, recorded, 100))
        assert first.code == Code.CHANGED and first.opt.oscore is not None
        again = aiocoap.Message.decode(send_raw(gw, recorded, 101))
        assert again.code == Code.UNAUTHORIZED and b"Replay" in again.payload
        assert gw.stop() == 0
        # A clean stop kept the window: after a restart the replay is still refused.
        gw = oscore_gateway(tmp_path)
        later = aiocoap.Message.decode(send_raw(gw, recorded, 102))
        assert later.code == Code.UNAUTHORIZED
        assert stored(gw.db) == [("B1", 7)]
    finally:
        if gw.proc.poll() is None:
            gw.stop()


def test_after_a_crash_a_replay_is_refused_and_the_node_is_not_locked_out(
        tmp_path: Path) -> None:
    gw = oscore_gateway(tmp_path)
    try:
        gw.register(Node("B1", "bin", 60.0, 17.0, key=KEY.hex()))
        node = NodeSide(kid_of(gw.db, "B1"), KEY)
        recorded = raw_report(node, 7)
        assert aiocoap.Message.decode(send_raw(gw, recorded, 100)).code == Code.CHANGED
        gw.proc.send_signal(signal.SIGKILL)  # no clean stop: the window is unknown
        gw.proc.wait()
        gw = oscore_gateway(tmp_path)
        # The recorded report draws only a challenge (a protected 4.01 with
        # Echo, which only the node can read): nothing is stored.
        challenge = aiocoap.Message.decode(send_raw(gw, recorded, 101))
        assert challenge.opt.oscore is not None
        assert stored(gw.db) == [("B1", 7)]
        # The node answers the challenge and its new report is stored.
        assert asyncio.run(post(gw, "B1", 8, node)) == Code.CHANGED
        assert aiocoap.Message.decode(send_raw(gw, recorded, 102)).code == Code.UNAUTHORIZED
        assert stored(gw.db) == [("B1", 7), ("B1", 8)]
    finally:
        if gw.proc.poll() is None:
            gw.stop()


def test_a_protected_report_without_a_node_id_is_the_contexts_node(tmp_path: Path) -> None:
    """Nodes leave their id out of protected requests (six bytes less on
    air): the key names the node. Unprotected, such a request names nobody."""
    gw = oscore_gateway(tmp_path)
    try:
        gw.register(Node("B1", "bin", 60.0, 17.0, key=KEY.hex()))
        node = NodeSide(kid_of(gw.db, "B1"), KEY)
        assert asyncio.run(post(gw, "", 5, node)) == Code.CHANGED
        assert asyncio.run(post(gw, "", 6, None)) == Code.NOT_FOUND
        assert stored(gw.db) == [("B1", 5)]
    finally:
        assert gw.stop() == 0
