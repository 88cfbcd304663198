"""A running gateway with OSCORE required: a node's report protected with its
provisioned key is stored; an unprotected one, one protected with another
key, one protected with another node's context, and a replay are refused and
stored nowhere. The node's side here is aiocoap's own OSCORE client."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import time
from pathlib import Path

import aiocoap
import aiocoap.oscore
from aiocoap.numbers.codes import Code
from conftest import RunningGateway, launch_gateway
from test_oscore_contexts import KEY, NodeSide

from firmware import codec
from gateway.records import Node


def stored(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT node_id, seq FROM bin_reports ORDER BY id").fetchall()


def kid_of(db: Path, node_id: str) -> bytes:
    with sqlite3.connect(db) as conn:
        return bytes(conn.execute("SELECT kid FROM oscore_contexts WHERE node_id = ?",
                                  (node_id,)).fetchone()[0])


def oscore_gateway(tmp_path: Path) -> RunningGateway:
    """A gateway that requires OSCORE, on the database in tmp_path (the same
    one again when started again)."""
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[gateway]\noscore = "required"\n')
    return launch_gateway(tmp_path, "--config", str(cfg))


async def post(gw: RunningGateway, node_id: str, seq: int,
               context: NodeSide | None) -> Code | str:
    """The answer's code, or what the node's OSCORE made of an answer it
    could not read (the gateway answers a request it cannot decrypt
    unprotected, 4.00)."""
    ctx = await aiocoap.Context.create_client_context()
    try:
        if context is not None:
            ctx.client_credentials[f"coap://127.0.0.1:{gw.port}/*"] = context
        payload = codec.encode_bin_report(codec.BinReport(seq, int(time.time()), 40.0, 8, 3600))
        req = aiocoap.Message(code=Code.POST, uri=f"coap://127.0.0.1:{gw.port}/b/{node_id}",
                              payload=payload)
        try:
            resp = await asyncio.wait_for(ctx.request(req).response, 10)
        except aiocoap.oscore.NotAProtectedMessage as e:
            return f"unprotected answer {e.plain_message.code}"
        return Code(resp.code)
    finally:
        await ctx.shutdown()


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


def raw_report(node: NodeSide, seq: int) -> bytes:
    """A protected report as bytes, as an attacker would record it off the air."""
    payload = codec.encode_bin_report(codec.BinReport(seq, int(time.time()), 40.0, 8, 3600))
    msg = aiocoap.Message(code=Code.POST, uri="coap://gateway/b/B1", payload=payload)
    msg.direction = aiocoap.message.Direction.OUTGOING
    protected, _ = node.protect(msg)
    protected.mtype, protected.mid, protected.token = aiocoap.CON, seq, b"\x01"
    return bytes(protected.encode())


def send_raw(gw: RunningGateway, data: bytes, mid: int) -> bytes:
    """Send a recorded request again with another message id (the outer
    header is not protected) and return the answer's bytes."""
    data = data[:2] + mid.to_bytes(2, "big") + data[4:]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(data, gw.addr)
        return s.recv(1500)


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
