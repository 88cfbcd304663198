"""What the attack tests share: a gateway with production settings (node
clocks bounded, unlike a simulation's gateway), requests sent as a node
would, and a look at what the gateway stored and logged."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

from conftest import RunningGateway, launch_gateway

from firmware.proto import coap
from sim.gateway_process import gateway_log_path

OPT_URI_QUERY = 15  # RFC 7252 5.10


def production_gateway(tmp_path: Path, *extra: str) -> RunningGateway:
    """A gateway as a city runs it: real clock bounds on reports."""
    return launch_gateway(tmp_path, *extra, virtual_time=False)


def exchange(sock: socket.socket, msg: coap.Message, timeout: float = 1.0) -> coap.Message:
    """Send as a node would, retransmitting until the answer comes."""
    sock.settimeout(timeout)
    for _ in range(coap.MAX_RETRANSMIT + 1):
        sock.send(coap.encode(msg))
        try:
            while True:
                reply = coap.decode(sock.recv(65536))
                if reply.mid == msg.mid:
                    return reply
        except TimeoutError:
            continue
    raise AssertionError("the gateway does not answer")


def request(gw: RunningGateway, code: int, path: list[bytes], payload: bytes = b"",
            queries: list[bytes] = (), mid: int = 1) -> coap.Message:  # type: ignore[assignment]
    """One confirmable request from a fresh socket; the answer."""
    opts = [(coap.OPT_URI_PATH, p) for p in path]
    opts += [(OPT_URI_QUERY, q) for q in queries]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(gw.addr)
        return exchange(sock, coap.Message(coap.CON, code, mid, b"\x42", opts, payload))


def post_report(gw: RunningGateway, kind: bytes, node_id: str, payload: bytes,
                mid: int = 1) -> tuple[str, str]:
    reply = request(gw, coap.POST, [kind, node_id.encode()], payload, mid=mid)
    return coap.code_str(reply.code), reply.payload.decode(errors="replace")


def bin_rows(db: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT node_id, seq, measured_at FROM bin_reports").fetchall()


def log_text(gw: RunningGateway) -> str:
    return gateway_log_path(gw.db).read_text(errors="replace")
