"""The gateway against real CoAP peers: libcoap's command-line client, aiocoap,
and a stream of garbage datagrams."""

from __future__ import annotations

import random
import re
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest
from aiocoap.numbers.codes import Code
from conftest import RunningGateway, managed

from firmware import codec
from firmware.proto import coap
from gateway.records import Node

BIN = Node("B0001", "bin", 60.67, 17.14, "240L")
LIGHT = Node("L0001", "light", 60.67, 17.15, "street-1")


def coap_client(gw: RunningGateway, path: str, payload: bytes, tmp_path: Path,
                method: str = "post") -> tuple[str, str]:
    """POST with libcoap's client; returns (response code, diagnostic text)."""
    body = tmp_path / "payload.bin"
    body.write_bytes(payload)
    proc = subprocess.run(
        ["coap-client-notls", "-v", "6", "-B", "5", "-m", method, "-t", "42", "-f", str(body),
         f"coap://127.0.0.1:{gw.port}/{path}"],
        capture_output=True, text=True, timeout=30)
    for line in proc.stdout.splitlines():
        m = re.search(r"t:(?:ACK|CON|NON) c:(\d\.\d\d)", line)
        if m:
            text = line.split(" :: ", 1)[1].strip("'") if " :: " in line else ""
            return m.group(1), text
    raise AssertionError(f"no response from the gateway: {proc.stdout} {proc.stderr}")


def stored_reports(db: Path) -> list[tuple[str, int, float | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT node_id, seq, fill_pct FROM bin_reports").fetchall()


def report(seq: int = 1, fill: float = 42.5) -> bytes:
    return codec.encode_bin_report(codec.BinReport(seq, 1790000000 + seq, fill, 8, 3600))


def test_libcoap_client_gets_success_for_a_valid_report(gateway: RunningGateway,
                                                         tmp_path: Path) -> None:
    gateway.register(BIN)
    assert coap_client(gateway, "b/B0001", report(), tmp_path) == ("2.04", "")
    assert stored_reports(gateway.db) == [("B0001", 1, 42.5)]


def test_libcoap_client_gets_4_00_with_a_diagnostic_for_a_malformed_report(
        gateway: RunningGateway, tmp_path: Path) -> None:
    gateway.register(BIN)
    code, text = coap_client(gateway, "b/B0001", b"\x01\x00\x07", tmp_path)
    assert code == "4.00"
    assert "12 bytes" in text
    assert stored_reports(gateway.db) == []


def test_unknown_node_gets_4_04_and_nothing_is_stored(gateway: RunningGateway,
                                                       tmp_path: Path) -> None:
    code, text = coap_client(gateway, "b/B9999", report(), tmp_path)
    assert code == "4.04"
    assert "B9999" in text and "register" in text
    assert stored_reports(gateway.db) == []


def test_report_from_a_node_in_the_wrong_role_is_refused(gateway: RunningGateway,
                                                          tmp_path: Path) -> None:
    gateway.register(LIGHT)
    code, text = coap_client(gateway, "b/L0001", report(), tmp_path)
    assert code == "4.00" and "light" in text


def test_a_retransmitted_report_is_stored_once(gateway: RunningGateway, tmp_path: Path) -> None:
    gateway.register(BIN)
    # A node that lost the ACK sends the same report again in a new message.
    for _ in range(3):
        assert coap_client(gateway, "b/B0001", report(seq=9), tmp_path)[0] == "2.04"
    assert stored_reports(gateway.db) == [("B0001", 9, 42.5)]


def _exchange(sock: socket.socket, msg: coap.Message) -> coap.Message:
    """Send as a node would: retransmit until the answer comes (a flood can
    overrun any UDP receiver's buffer, so the first copy may be lost)."""
    sock.settimeout(1.0)
    for _ in range(coap.MAX_RETRANSMIT + 1):
        sock.send(coap.encode(msg))
        try:
            while True:
                reply = coap.decode(sock.recv(1500))
                if reply.mid == msg.mid:
                    return reply
        except TimeoutError:
            continue
    raise AssertionError("the gateway no longer answers")


def test_random_datagrams_never_stop_the_gateway(gateway: RunningGateway) -> None:
    gateway.register(BIN)
    rng = random.Random(7)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(gateway.addr)
    valid = coap.encode(coap.Message(coap.CON, coap.POST, 1, b"\x01",
                                     [(coap.OPT_URI_PATH, b"b"), (coap.OPT_URI_PATH, b"B0001")],
                                     report()))
    for i in range(3000):
        kind = i % 3
        if kind == 0:  # pure noise
            data = rng.randbytes(rng.randint(0, 200))
        elif kind == 1:  # a real request with bytes flipped
            buf = bytearray(valid)
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] ^= rng.randint(1, 255)
            data = bytes(buf)
        else:  # a valid header with random options and payload
            data = bytes([0x40 | rng.randint(0, 8), 0x02]) + rng.randbytes(rng.randint(2, 80))
        sock.send(data)
    # Still alive, and still serving correctly.
    req = coap.Message(coap.CON, coap.POST, 0xBEEF, b"\x77",
                       [(coap.OPT_URI_PATH, b"b"), (coap.OPT_URI_PATH, b"B0001")],
                       report(seq=500))
    reply = _exchange(sock, req)
    assert coap.code_str(reply.code) == "2.04"
    assert ("B0001", 500, 42.5) in stored_reports(gateway.db)
    assert gateway.proc.poll() is None
    sock.close()


@pytest.mark.parametrize("payload, expect", [
    (b"{nope", "not valid JSON"),
    (b'{"node_id": "B1", "role": "bin", "lat": 91, "lon": 17}', "lat"),
    (b'{"node_id": "B1", "role": "bench", "lat": 60, "lon": 17}', "role"),
])
def test_bad_registrations_are_refused_with_the_reason(gateway: RunningGateway, tmp_path: Path,
                                                       payload: bytes, expect: str) -> None:
    # Without a technician's credential, libcoap's client is refused first.
    code, text = coap_client(gateway, "nodes/B1", payload, tmp_path, method="put")
    assert code == "4.01" and "technician" in text
    reply = managed(gateway, Code.PUT, "nodes/B1", payload)
    assert reply.code == Code.BAD_REQUEST and expect in reply.payload.decode()
