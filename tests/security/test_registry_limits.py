"""Attacks on the registry: registrations beyond any limit, a short address
found by scanning every pole, GET /nodes answering far more than it is asked
(and stalling the gateway while it serialises everything), GET /nodes/ with
an empty id."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from aiocoap.numbers.codes import Code
from conftest import RunningGateway, managed
from security_support import log_text, production_gateway, request

from firmware.proto import coap
from gateway.coap.client import RegistryError, list_nodes, register_nodes
from gateway.records import Node
from gateway.storage.store import Store


def _nodes(n: int, role: str = "bin", start: int = 0) -> list[Node]:
    kind = "street-1" if role == "light" else "240L"
    return [Node(f"{role[0].upper()}{start + i:05d}", role, 60.0 + i * 1e-5, 17.0, kind)
            for i in range(n)]


def test_registrations_beyond_max_nodes_are_refused(tmp_path: Path) -> None:
    gw = production_gateway(tmp_path, "--max-nodes", "5")
    try:
        gw.register(*_nodes(5))
        with pytest.raises(RegistryError, match=r"maximum of 5 nodes \(max_nodes\)"):
            gw.register(*_nodes(1, start=5))
        # A node it has can still be updated (moved, given a new key), on
        # the operator's override since these bins have no key.
        gw.register(Node("B00000", "bin", 61.0, 17.0, "240L"), override=True)
        assert len(asyncio.run(list_nodes("127.0.0.1", gw.port, technician=gw.technician))) == 5
    finally:
        gw.stop()


def test_a_free_short_address_is_found_without_scanning_every_pole(tmp_path: Path) -> None:
    with Store(tmp_path / "g.sqlite") as store:
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO nodes (node_id, role, lat, lon, kind, registered_at, addr) "
                "VALUES (?, 'light', 60, 17, 'z', 0, ?)",
                [(f"L{a}", a) for a in range(1, 60001) if a != 30000])
        first = store.register_node(Node("NEW1", "light", 60, 17, "z"))[1]
        assert first.addr == 30000
        assert store.register_node(Node("NEW2", "light", 60, 17, "z"))[1].addr == 60001
        # From then on, each search starts at the first gap: a few steps of
        # SQLite's VM, not one per pole.
        steps = 0

        def count() -> int:
            nonlocal steps
            steps += 1
            return 0

        store._db.set_progress_handler(count, 10)
        for i in range(20):
            node = store.register_node(Node(f"NEW{i + 3}", "light", 60, 17, "z"))[1]
            assert node.addr == 60002 + i
        store._db.set_progress_handler(None, 0)
        assert steps * 10 < 20 * 500, steps  # a scan: ~10 steps per pole


def _get(gw: RunningGateway, queries: list[bytes] = (), path: list[bytes] = (b"nodes",),  # type: ignore[assignment]
         mid: int = 7) -> coap.Message:
    return request(gw, coap.GET, list(path), queries=list(queries), mid=mid)


def test_get_nodes_answers_small_pages(tmp_path: Path) -> None:
    gw = production_gateway(tmp_path)
    try:
        nodes = _nodes(120)
        asyncio.run(register_nodes("127.0.0.1", gw.port, nodes, technician=gw.technician))
        # Without a technician's credential: refused, nothing listed.
        refused = _get(gw)
        assert coap.code_str(refused.code) == "4.01" and b"node_id" not in refused.payload
        first = managed(gw, Code.GET, "nodes")
        assert first.code == Code.CONTENT
        # A default page: a few hundred bytes, not the whole registry.
        assert first.payload.count(b"node_id") == 5 and len(first.payload) < 600
        assert b"key" not in first.payload
        page = managed(gw, Code.GET, "nodes?offset=115&limit=50")
        assert page.payload.count(b"node_id") == 5
        assert managed(gw, Code.GET, "nodes?offset=500").payload == b"[]"
        for bad in ("limit=51", "limit=0", "offset=-1", "evil=1", "limit"):
            assert managed(gw, Code.GET, f"nodes?{bad}").code == Code.BAD_REQUEST, bad
        # The client pages through all of them (each once).
        listed = asyncio.run(list_nodes("127.0.0.1", gw.port, technician=gw.technician))
        assert sorted(n.node_id for n in listed) == [n.node_id for n in nodes]
        # 40 listings at once answer promptly.
        t0 = time.monotonic()

        async def many() -> None:
            await asyncio.gather(*(list_nodes("127.0.0.1", gw.port, limit=50,
                                              technician=gw.technician)
                                   for _ in range(40)))
        asyncio.run(many())
        assert time.monotonic() - t0 < 10
        # GET /nodes/ (an empty id): a clean 4.04, no traceback.
        assert managed(gw, Code.GET, "nodes/").code == Code.NOT_FOUND
    finally:
        gw.stop()
    assert "Traceback" not in log_text(gw)


def test_registration_is_logged_with_the_id_quoted(tmp_path: Path) -> None:
    gw = production_gateway(tmp_path)
    try:
        gw.register(Node("B1", "bin", 60.0, 17.0, "240L"))
    finally:
        gw.stop()
    assert "node 'B1'" in log_text(gw)
    with sqlite3.connect(gw.db) as db:
        assert db.execute("SELECT COUNT(*) FROM nodes").fetchone() == (1,)
