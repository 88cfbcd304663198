"""Attacks on the gateway's log: garbage datagrams that each add a line (or
a traceback), node ids that inject lines of their own, and a log that grows
without end. The log stays small and one line per line, and the gateway keeps
answering."""

from __future__ import annotations

import logging
import random
import socket
import time
from pathlib import Path

from security_support import log_text, post_report, production_gateway

from firmware import codec
from firmware.proto import coap
from gateway.logs import LRU, RateLimit
from gateway.records import Node
from sim.gateway_process import gateway_log_path


def _garbage(rng: random.Random, i: int, valid: bytes) -> bytes:
    kind = i % 4
    if kind == 0:  # noise
        return rng.randbytes(rng.randint(0, 200))
    if kind == 1:  # a real request with bytes flipped
        buf = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] ^= rng.randint(1, 255)
        return bytes(buf)
    if kind == 2:  # a header, then random options (invalid UTF-8 in a path)
        return bytes([0x40 | rng.randint(0, 8), rng.choice([1, 2, 3, 0x45])]) \
            + rng.randbytes(rng.randint(2, 80))
    # a request for an unknown node, its id a new one each time
    return coap.encode(coap.Message(coap.NON, coap.POST, i & 0xFFFF, b"",
                                    [(coap.OPT_URI_PATH, b"b"),
                                     (coap.OPT_URI_PATH, f"X{i}".encode())], b"\x01"))


def test_a_garbage_flood_adds_little_to_the_log_and_the_gateway_still_answers(
        tmp_path: Path) -> None:
    gw = production_gateway(tmp_path)
    try:
        gw.register(Node("B0001", "bin", 60.67, 17.14, "240L"))
        log = gateway_log_path(gw.db)
        before = log.stat().st_size
        rng = random.Random(11)
        valid = coap.encode(coap.Message(
            coap.CON, coap.POST, 1, b"\x01", [(coap.OPT_URI_PATH, b"b"),
                                              (coap.OPT_URI_PATH, b"B0001")],
            codec.encode_bin_report(codec.BinReport(1, 0, 40.0))))
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(500)]
        try:
            for i in range(20000):
                socks[i % 500].sendto(_garbage(rng, i, valid), gw.addr)
                if i % 200 == 199:
                    time.sleep(0.005)  # a fast sender, not one the kernel drops
        finally:
            for s in socks:
                s.close()
        t0 = time.monotonic()
        # Sent again every 0.2 s: a copy the kernel drops from a full socket
        # buffer says nothing about the gateway.
        code, _ = post_report(gw, b"b", "B0001",
                              codec.encode_bin_report(codec.BinReport(2, 0, 41.0)), mid=0x7777,
                              timeout=0.2)
        answered_s = time.monotonic() - t0
        assert code == "2.04"
        assert answered_s < 1.0, answered_s
        time.sleep(0.5)
        grown = log.stat().st_size - before
        print(f"log grew {grown} bytes for 20,000 garbage datagrams; "
              f"a valid report answered in {answered_s * 1000:.0f} ms")
        assert grown < 20_000, grown
    finally:
        gw.stop()
    text = log_text(gw)
    assert "Traceback" not in text
    assert "held back by the rate limit" in text


def test_node_ids_cannot_inject_log_lines(tmp_path: Path) -> None:
    gw = production_gateway(tmp_path)
    try:
        evil = "X1\n2030-01-01 00:00:00 gateway: registered node 'ADMIN'"
        code, _ = post_report(gw, b"b", evil, b"\x01" * 12)
        assert code == "4.04"
    finally:
        gw.stop()
    lines = log_text(gw).splitlines()
    assert not any(ln.startswith("2030-01-01") for ln in lines)
    assert any('X1\\n2030' in ln for ln in lines)


def test_the_rate_limit_counts_what_it_holds_back_and_forgets_old_reasons() -> None:
    now = [0.0]
    out: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            out.append(record.getMessage())

    handler = Keep()
    limit = RateLimit(clock=lambda: now[0], handler=handler)
    handler.addFilter(limit)
    logger = logging.getLogger("test.flood")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(1000):
            logger.warning("rejected from %r", f"N{i}")
        assert len(out) == 10
        now[0] = 61.0
        logger.warning("rejected from %r", "N1000")
        assert "990 log lines held back" in out[10]
        for i in range(2000):  # every wording a new reason: remembered at most 512
            logger.warning(f"reason {chr(0x4e00 + i)}")
        assert len(limit.reasons) <= 512
    finally:
        logger.removeHandler(handler)
    lru: LRU[int, None] = LRU(3)
    for i in range(10):
        lru.touch(i, None)
    assert list(lru) == [7, 8, 9]


def test_the_log_file_is_rotated_and_owner_only(tmp_path: Path) -> None:
    from gateway import logs

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    log_file = tmp_path / "logs" / "gateway.log"
    try:
        handler = logs.setup(log_file, max_bytes=10_000, backups=2)
        for i in range(600):
            logging.getLogger(f"test.rotate.{i}").warning("line %d %s", i, "x" * 400)
        handler.close()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    files = sorted(p.name for p in log_file.parent.iterdir())
    assert files == ["gateway.log", "gateway.log.1", "gateway.log.2"]
    for p in log_file.parent.iterdir():
        assert p.stat().st_size <= 10_000
        assert p.stat().st_mode & 0o777 == 0o600
