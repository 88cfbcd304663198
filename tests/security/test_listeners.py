"""Attack surface: a gateway told to listen on 127.0.0.1 also served CoAP
over TCP and WebSockets (aiocoap's defaults) and sent commands from sockets
bound to every address of the other family. Now every socket it has is on
the configured address, and its only TCP listener is people's HTTP API, on
loopback at its own port (none at all without it)."""

from __future__ import annotations

import os
from pathlib import Path

from security_support import production_gateway

TCP_LISTEN = "0A"


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _ip(hex_addr: str) -> str:
    """/proc/net's address (little-endian words) as text."""
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return ".".join(str(b) for b in raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    if words[:12] == b"\0" * 10 + b"\xff\xff":
        return ".".join(str(b) for b in words[12:])  # IPv4-mapped
    return words.hex()


def sockets_of(pid: int) -> list[tuple[str, str, int, str]]:
    """(protocol, local address, local port, state) of every inet socket of pid."""
    mine = _socket_inodes(pid)
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[9] in mine:
                host, port = fields[1].split(":")
                found.append((proto, _ip(host), int(port, 16), fields[3]))
    return found


def test_with_host_127_0_0_1_only_udp_on_127_0_0_1(tmp_path: Path) -> None:
    gw = production_gateway(tmp_path, "--host", "127.0.0.1", "--no-http")
    try:
        socks = sockets_of(gw.proc.pid)
    finally:
        gw.stop()
    assert socks, "the gateway's sockets were not found"
    assert not [s for s in socks if s[0].startswith("tcp")], socks
    assert {s[1] for s in socks} == {"127.0.0.1"}, socks
    assert ("127.0.0.1", gw.port) in {(s[1], s[2]) for s in socks}


def test_the_http_api_is_the_one_tcp_listener_on_loopback(tmp_path: Path) -> None:
    gw = production_gateway(tmp_path, "--host", "127.0.0.1")
    try:
        socks = sockets_of(gw.proc.pid)
    finally:
        gw.stop()
    # Listeners only: the start-up check's own connection to the API may
    # still be closing on the gateway's side (on loopback too).
    listening = [s for s in socks if s[0].startswith("tcp") and s[3] == TCP_LISTEN]
    assert listening == [("tcp", "127.0.0.1", gw.http_port, TCP_LISTEN)], socks
    assert {s[1] for s in socks} == {"127.0.0.1"}, socks
