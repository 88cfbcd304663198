"""Gateway CoAP ingest (decode, registry check, durable SQLite commit, answer)
against bare aiocoap answering the same requests, in one run: plain requests,
and requests protected with OSCORE, as nodes send them, which bare aiocoap
then unprotects and answers protected too.

The rate is requests answered per second of the server's own CPU time (all
its threads; the gateway's commits wait on the disk, which is not CPU). On a
machine shared with other work, requests per wall-clock second measure the
neighbours as much as the server; CPU time per request does not. Servers are
measured in turns, a second at a time."""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.oscore_load import ProtectingNode, bare_kid, node_key
from bench.report import line
from firmware import codec
from firmware.proto import coap
from gateway.coap.client import register_nodes
from gateway.records import Node
from sim.gateway_process import (
    free_udp_port,
    start_gateway_on_free_ports,
    stop_gateway,
    technician_for,
)

CLIENTS = 64  # nodes sending at once, each with one request in flight
SECONDS = 8.0


Make = Callable[[int, int], bytes]  # (client, its sequence) -> a datagram
Check = Callable[[int, bytes], bool]  # (client, an answer) -> counted


def plain_report(i: int, seq: int) -> bytes:
    report = codec.BinReport(seq & 0xFFFF, 1_790_000_000 + seq, 50.0, 10, 3600)
    msg = coap.Message(coap.CON, coap.POST, seq & 0xFFFF, bytes((i,)),
                       [(coap.OPT_URI_PATH, b"b"), (coap.OPT_URI_PATH, f"N{i}".encode())],
                       codec.encode_bin_report(report))
    return bytes(coap.encode(msg))


def protected_reports(nodes: list[ProtectingNode]) -> tuple[Make, Check]:
    def make(i: int, seq: int) -> bytes:
        report = codec.BinReport(seq & 0xFFFF, 1_790_000_000 + seq, 50.0, 10, 3600)
        return nodes[i].protect(codec.encode_bin_report(report), seq & 0xFFFF, bytes((i,)))

    def check(i: int, data: bytes) -> bool:
        return nodes[i].answered_changed(data)
    return make, check


def load(port: int, seconds: float, make: Make = plain_report,
         check: Check | None = None) -> float:
    """Confirmable bin reports from CLIENTS sockets, one outstanding each, as
    fast as the server answers. Returns answered requests per second (with
    check: answers it accepts)."""
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
    wire = [b""] * CLIENTS

    def send(i: int) -> None:
        seq[i] += 1
        wire[i] = make(i, seq[i])
        socks[i].send(wire[i])
        sent_at[i] = time.monotonic()

    for i in range(CLIENTS):
        send(i)
    done = 0
    start = time.monotonic()
    while (now := time.monotonic()) - start < seconds:
        for key, _ in sel.select(0.05):
            i = key.data
            try:
                data = socks[i].recv(1500)
            except OSError:
                continue
            if data and (data[0] >> 4) & 3 == coap.CON:
                # A separate response (the server sent an empty ACK first
                # because answering took a while): acknowledged as a node
                # does, or the server would keep sending it.
                socks[i].send(bytes((0x60, 0)) + data[2:4])
            if check is not None and not check(i, data):
                continue  # not the answer to this report: wait for it
            done += 1
            send(i)
        for i in range(CLIENTS):  # resend anything the server dropped, as it was
            if now - sent_at[i] > 1.0:
                socks[i].send(wire[i])
                sent_at[i] = now
    elapsed = time.monotonic() - start
    for s in socks:
        s.close()
    return done / elapsed


ROUNDS = 8  # each server is measured in turn, SECONDS / ROUNDS at a time


def cpu_seconds(pid: int) -> float:
    """CPU time a process (all its threads) has used: user + system."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    port: int
    pid: int
    make: Make = plain_report
    check: Check | None = None
    answered: float = 0.0  # requests answered, over every round
    cpu: float = 0.0  # the server's CPU seconds meanwhile

    def rate(self) -> float:
        """Requests answered per second of the server's own CPU time: what
        it costs the server, whoever else shares the machine."""
        return self.answered / self.cpu


def interleaved(targets: list[Target], seconds: float = SECONDS) -> None:
    """Load each target in turn, a second or so at a time, counting what it
    answered and the CPU time it took."""
    for _ in range(ROUNDS):
        for target in targets:
            before = cpu_seconds(target.pid)
            rate = load(target.port, seconds / ROUNDS, target.make, target.check)
            target.cpu += cpu_seconds(target.pid) - before
            target.answered += rate * seconds / ROUNDS


@contextmanager
def bare_server(oscore_nodes: int = 0) -> Iterator[tuple[int, int]]:
    port = free_udp_port()
    args = ["--oscore", str(oscore_nodes)] if oscore_nodes else []
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(port), *args],
                            stdout=subprocess.PIPE)
    assert bare.stdout is not None
    bare.stdout.readline()
    try:
        yield port, bare.pid
    finally:
        bare.terminate()
        bare.wait()


@contextmanager
def gateway(tmp: Path, protected: bool) -> Iterator[Target]:
    """A gateway with CLIENTS bin nodes registered; protected: each with a
    key, and OSCORE required (the default); else nodes without keys, which
    only "optional" takes."""
    extra = ["--oscore", "required" if protected else "optional"]
    db = tmp / ("p.sqlite" if protected else "g.sqlite")
    started = start_gateway_on_free_ports(db, *extra)
    gw, port = started.proc, started.port
    try:
        kids: dict[str, str] = {}
        nodes = [Node(f"N{i}", "bin", 60.0, 17.0,
                      key=node_key(i).hex() if protected else None) for i in range(CLIENTS)]
        asyncio.run(register_nodes("127.0.0.1", port, nodes, kids=kids,
                                   technician=technician_for(db)))
        if not protected:
            yield Target(port, gw.pid)
        else:
            yield Target(port, gw.pid, *protected_reports([
                ProtectingNode(f"N{i}", bytes.fromhex(kids[f"N{i}"]), node_key(i))
                for i in range(CLIENTS)]))
    finally:
        stop_gateway(gw)


def run() -> list[str]:
    bare_nodes = [ProtectingNode(f"N{i}", bare_kid(i), node_key(i)) for i in range(CLIENTS)]
    with tempfile.TemporaryDirectory() as tmp, bare_server() as bare_plain, \
            bare_server(CLIENTS) as bare_protected, \
            gateway(Path(tmp), protected=False) as plain, \
            gateway(Path(tmp), protected=True) as protected:
        bare = Target(*bare_plain)
        interleaved([bare, plain])
        bare_oscore = Target(*bare_protected, *protected_reports(bare_nodes))
        interleaved([bare_oscore, protected])
    return [
        line("ingest.bare_aiocoap", bare.rate(), "req/cpu-s", ">", 0),
        line("ingest.gateway", plain.rate(), "req/cpu-s", ">", 0),
        line("ingest.ratio_to_bare_aiocoap", plain.rate() / bare.rate(), "x", ">=", 0.5),
        line("ingest.bare_aiocoap_oscore", bare_oscore.rate(), "req/cpu-s", ">", 0),
        line("ingest.gateway_oscore", protected.rate(), "req/cpu-s", ">", 0),
        line("ingest.ratio_to_bare_aiocoap_oscore", protected.rate() / bare_oscore.rate(), "x",
             ">=", 0.8),
    ]
