"""Attack: a user on the gateway's machine reads the nodes' keys from a
world-readable database, or finds a key in the log or in an answer. The
database, its -wal and -shm and the log are owner-only; keys appear nowhere."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from aiocoap.numbers.codes import Code
from conftest import managed
from security_support import log_text, production_gateway, request

from firmware import codec
from firmware.proto import coap
from gateway.coap.client import get_node, list_nodes
from gateway.records import Node
from sim.gateway_process import gateway_log_path

KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_log_are_owner_only_and_keys_appear_nowhere(tmp_path: Path) -> None:
    gw = production_gateway(tmp_path)
    try:
        gw.register(Node("B0001", "bin", 60.67, 17.14, "240L", key=KEY))
        # A node without a key yet (the gateway takes its plain report while
        # OSCORE is optional) writes the database and its journal.
        gw.register(Node("B0002", "bin", 60.67, 17.15, "240L"))
        report = codec.encode_bin_report(codec.BinReport(1, 0, 40.0))
        assert coap.code_str(request(gw, coap.POST, [b"b", b"B0002"], report).code) == "2.04"
        # The keyed node is never taken unprotected.
        assert coap.code_str(request(gw, coap.POST, [b"b", b"B0001"], report).code) == "4.01"
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{gw.db}{suffix}")
            assert path.exists(), path
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
        assert _mode(gateway_log_path(gw.db)) == 0o600
        answers = [n.to_json(with_key=True) for n in
                   asyncio.run(list_nodes("127.0.0.1", gw.port, technician=gw.technician))]
        one = asyncio.run(get_node("127.0.0.1", gw.port, "B0001", technician=gw.technician))
        assert one is not None and one.key is None
        answers.append(managed(gw, Code.GET, "nodes/B0001").payload)
        answers.append(managed(gw, Code.GET, "nodes").payload)
        assert not any(KEY.encode() in a for a in answers)
    finally:
        gw.stop()
    assert KEY not in log_text(gw)
