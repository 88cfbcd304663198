"""What tests of OSCORE between nodes and a running gateway share: the node's
end of a context with aiocoap's own implementation (independent of the
firmware's), a gateway that requires OSCORE, and a look at what it stored."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from pathlib import Path

import aiocoap
import aiocoap.oscore
from aiocoap import oscore
from aiocoap.numbers.codes import Code
from conftest import RunningGateway, launch_gateway

from firmware import codec
from gateway.security.contexts import ALGORITHM, GATEWAY_ID

KEY = bytes.fromhex("0123456789abcdef0123456789abcdef")


class NodeSide(oscore.CanProtect, oscore.CanUnprotect,  # type: ignore[misc]
               oscore.SecurityContextUtils):
    """The node's end of the same context, with aiocoap's implementation."""

    def __init__(self, kid: bytes, key: bytes, next_to_send: int = 0) -> None:
        self.alg_aead = oscore.algorithms[ALGORITHM]
        self.hashfun = oscore.hashfunctions["sha256"]
        self.sender_id, self.recipient_id, self.id_context = kid, GATEWAY_ID, None
        self.derive_keys(b"", key)
        self.sender_sequence_number = next_to_send
        self.recipient_replay_window = oscore.ReplayWindow(32, lambda: None)
        self.recipient_replay_window.initialize_empty()
        self.echo_recovery = None

    def post_seqnoincrease(self) -> None:
        pass


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
    return launch_gateway(tmp_path, "--config", str(cfg), oscore=None)


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
        path = f"b/{node_id}" if node_id else "b"  # "": the id left out
        req = aiocoap.Message(code=Code.POST, uri=f"coap://127.0.0.1:{gw.port}/{path}",
                              payload=payload)
        try:
            resp = await asyncio.wait_for(ctx.request(req).response, 10)
        except aiocoap.oscore.NotAProtectedMessage as e:
            return f"unprotected answer {e.plain_message.code}"
        return Code(resp.code)
    finally:
        await ctx.shutdown()


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
