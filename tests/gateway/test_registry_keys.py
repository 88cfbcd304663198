"""The registry learns each node's key when a technician provisions it, and
never gives it out; a registration for a new node cannot take an id that is
already there (If-None-Match), a replacement can, with proof of the old
node's key or an override. Every request carries a technician's credential."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import RunningGateway

from gateway.coap.client import (
    GatewayUnreachable,
    NodeExists,
    get_node,
    list_nodes,
    register_nodes,
)
from gateway.records import Node, RegistrationError
from gateway.security.technician import TechnicianCredential
from gateway.storage.store import Store
from sim.gateway_process import free_udp_port

KEY = "0123456789abcdef0123456789abcdef"
NEW_KEY = "fedcba9876543210fedcba9876543210"


def stored_keys(db: Path) -> dict[str, str | None]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT node_id, key FROM nodes").fetchall())


def test_the_gateway_keeps_the_key_and_never_answers_it(gateway: RunningGateway,
                                                        tmp_path: Path) -> None:
    node = Node("B0042", "bin", 60.675, 17.141, "240L", key=KEY)
    kids: dict[str, str] = {}
    assert asyncio.run(register_nodes("127.0.0.1", gateway.port, [node], only_new=True,
                                      kids=kids, technician=gateway.technician)) == {"B0042": True}
    assert stored_keys(gateway.db) == {"B0042": KEY}
    # The answer names the node's OSCORE context: its kid, for its config.json.
    with sqlite3.connect(gateway.db) as conn:
        (kid,) = conn.execute("SELECT kid FROM oscore_contexts").fetchone()
    assert kids == {"B0042": bytes(kid).hex()} and len(kid) == 1
    listed = asyncio.run(list_nodes("127.0.0.1", gateway.port, technician=gateway.technician))
    one = asyncio.run(get_node("127.0.0.1", gateway.port, "B0042", technician=gateway.technician))
    assert listed == [Node("B0042", "bin", 60.675, 17.141, "240L")] and one == listed[0]
    # libcoap's client, without a technician's credential, sees nothing at all.
    for path in ("nodes", "nodes/B0042"):
        got = subprocess.run(["coap-client-notls", "-B", "5", f"coap://127.0.0.1:{gateway.port}/"
                              f"{path}"], capture_output=True, text=True, timeout=30)
        out = got.stdout + got.stderr
        assert "B0042" not in out and KEY not in out and "technician" in out
    # A registration without a key (a bin list imported later, on the
    # operator's override) keeps it.
    gateway.register(Node("B0042", "bin", 60.676, 17.141, "240L"), override=True)
    assert stored_keys(gateway.db) == {"B0042": KEY}


def test_only_new_refuses_a_taken_id_and_leaves_it_as_it_was(gateway: RunningGateway) -> None:
    first = Node("L0007", "light", 60.675, 17.141, "street-1", key=KEY)
    asyncio.run(register_nodes("127.0.0.1", gateway.port, [first], only_new=True,
                               technician=gateway.technician))
    other = Node("L0007", "light", 61.0, 18.0, "path", key=NEW_KEY)
    with pytest.raises(NodeExists, match="already has a node L0007"):
        asyncio.run(register_nodes("127.0.0.1", gateway.port, [other], only_new=True,
                                   technician=gateway.technician))
    kept = asyncio.run(get_node("127.0.0.1", gateway.port, "L0007", technician=gateway.technician))
    assert kept is not None and (kept.lat, kept.kind, kept.addr) == (60.675, "street-1", 1)
    assert stored_keys(gateway.db) == {"L0007": KEY}
    # The replacement of a pole: same id, its own key, its address kept,
    # proved with the old pole's key.
    replacement = Node("L0007", "light", 60.6751, 17.1411, "street-1", key=NEW_KEY)
    assert asyncio.run(register_nodes("127.0.0.1", gateway.port, [replacement],
                                      technician=gateway.technician,
                                      old_keys={"L0007": KEY})) == {"L0007": False}
    kept = asyncio.run(get_node("127.0.0.1", gateway.port, "L0007", technician=gateway.technician))
    assert kept is not None and (kept.lat, kept.addr) == (60.6751, 1)
    assert stored_keys(gateway.db) == {"L0007": NEW_KEY}


def test_libcoap_put_without_a_credential_gets_4_01(gateway: RunningGateway,
                                                    tmp_path: Path) -> None:
    body = tmp_path / "node.json"
    body.write_text(json.dumps({"node_id": "B1", "role": "bin", "lat": 60.6, "lon": 17.1}))

    def put() -> str:
        out = subprocess.run(["coap-client-notls", "-v", "6", "-B", "5", "-m", "put", "-t", "50",
                              "-O", "5", "-f", str(body), f"coap://127.0.0.1:{gateway.port}/nodes/B1"],
                             capture_output=True, text=True, timeout=30).stdout
        return " ".join(ln for ln in out.splitlines() if "c:" in ln)

    assert "c:4.01" in put()
    assert "c:4.01" in put()
    assert stored_keys(gateway.db) == {}


@pytest.mark.parametrize("key, expect", [
    ("0123", "32 hex digits"),
    ("g" * 32, "not 0-9 or a-f"),
    (42, "32 hex digits"),
])
def test_a_bad_key_is_refused_without_repeating_it(key: object, expect: str) -> None:
    with pytest.raises(RegistrationError, match=expect) as e:
        Node.from_dict({"node_id": "B1", "role": "bin", "lat": 60, "lon": 17, "key": key})
    assert str(key) not in str(e.value) or key == 42


def test_a_database_from_before_keys_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE nodes (node_id TEXT PRIMARY KEY, role TEXT NOT NULL, "
                     "lat REAL NOT NULL, lon REAL NOT NULL, kind TEXT NOT NULL DEFAULT '', "
                     "registered_at REAL NOT NULL, addr INTEGER)")
        conn.execute("INSERT INTO nodes VALUES ('B1', 'bin', 60, 17, '', 0, NULL)")
    store = Store(db)
    try:
        assert store.node_key("B1") is None
        store.register_node(Node("B1", "bin", 60, 17, key=KEY))
        assert store.node_key("B1") == KEY
        assert [n.key for n in store.nodes()] == [None]
    finally:
        store.close()


def test_an_unreachable_gateway_is_told_apart(tmp_path: Path) -> None:
    port = free_udp_port()
    with pytest.raises(GatewayUnreachable, match="did not answer"):
        asyncio.run(get_node("127.0.0.1", port, "B1", timeout=3,
                             technician=TechnicianCredential("t", b"\x01", bytes(16),
                                                             state_dir=tmp_path)))
