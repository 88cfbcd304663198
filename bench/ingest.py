"""Gateway CoAP ingest (decode, registry check, durable SQLite commit, answer)
against bare aiocoap answering the same requests, in one run."""

from __future__ import annotations

import asyncio
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import line
from firmware import codec
from firmware.proto import coap
from gateway.coap.client import register_nodes
from gateway.records import Node
from sim.gateway_process import free_udp_port, start_gateway, stop_gateway

CLIENTS = 64  # nodes sending at once, each with one request in flight
SECONDS = 4.0


def load(port: int, seconds: float) -> float:
    """Confirmable bin reports from CLIENTS sockets, one outstanding each, as
    fast as the server answers. Returns answered requests per second."""
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(CLIENTS):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
    seq = [0] * CLIENTS
    sent_at = [0.0] * CLIENTS

    def send(i: int) -> None:
        seq[i] += 1
        report = codec.BinReport(seq[i] & 0xFFFF, 1_790_000_000 + seq[i], 50.0, 10, 3600)
        msg = coap.Message(coap.CON, coap.POST, seq[i] & 0xFFFF, bytes((i,)),
                           [(coap.OPT_URI_PATH, b"b"), (coap.OPT_URI_PATH, f"N{i}".encode())],
                           codec.encode_bin_report(report))
        socks[i].send(coap.encode(msg))
        sent_at[i] = time.monotonic()

    for i in range(CLIENTS):
        send(i)
    done = 0
    start = time.monotonic()
    while (now := time.monotonic()) - start < seconds:
        for key, _ in sel.select(0.05):
            i = key.data
            try:
                socks[i].recv(1500)
            except OSError:
                continue
            done += 1
            send(i)
        for i in range(CLIENTS):  # resend anything the server dropped
            if now - sent_at[i] > 1.0:
                send(i)
    elapsed = time.monotonic() - start
    for s in socks:
        s.close()
    return done / elapsed


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        bare_port = free_udp_port()
        bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(bare_port)],
                                stdout=subprocess.PIPE)
        assert bare.stdout is not None
        bare.stdout.readline()
        try:
            bare_rps = load(bare_port, SECONDS)
        finally:
            bare.terminate()
            bare.wait()
        port = free_udp_port()
        gw = start_gateway(Path(tmp) / "g.sqlite", port)
        try:
            asyncio.run(register_nodes("127.0.0.1", port,
                                       [Node(f"N{i}", "bin", 60.0, 17.0) for i in range(CLIENTS)]))
            gw_rps = load(port, SECONDS)
        finally:
            stop_gateway(gw)
    return [
        line("ingest.bare_aiocoap", bare_rps, "req/s", ">", 0),
        line("ingest.gateway", gw_rps, "req/s", ">", 0),
        line("ingest.ratio_to_bare_aiocoap", gw_rps / bare_rps, "x", ">=", 0.5),
    ]
