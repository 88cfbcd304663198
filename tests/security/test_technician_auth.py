"""Attacks on the registry's management requests (PUT/GET /nodes), each
against a real gateway process: no credential, an unknown or revoked
technician, a wrong key, a node's own context, a recorded registration
replayed (also across a gateway restart and a crash), listings without a
credential, and replacing a registered node without its old key or the
operator's override. Each must fail: 4.01 (or 4.03 for a replacement), and
nothing changed, nothing listed."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiocoap
import pytest
from aiocoap.numbers.codes import Code
from conftest import RunningGateway, launch_gateway, managed, one_line_error
from security_support import exchange, log_text, request

from firmware.proto import coap
from gateway.coap.client import (
    CredentialRefused,
    ReplaceRefused,
    get_node,
    list_nodes,
    register_nodes,
    send_selftest,
    technician_client,
)
from gateway.records import Node, SelfTest, replace_proof
from gateway.security.technician import LaptopContext, TechnicianCredential, laptop_context
from sim.gateway_process import start_gateway

OPT_OSCORE = 9  # RFC 8613 2
KEY = "0123456789abcdef0123456789abcdef"
NEW_KEY = "fedcba9876543210fedcba9876543210"


def kvarter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=120)


def stored(db: Path) -> dict[str, tuple[float, str | None]]:
    with sqlite3.connect(db) as conn:
        return {n: (lat, key) for n, lat, key in
                conn.execute("SELECT node_id, lat, key FROM nodes").fetchall()}


def added(gw: RunningGateway, name: str, tmp_path: Path) -> TechnicianCredential:
    """A technician added with the admin's command while the gateway runs,
    read back from the lines it prints, as the technician pastes them."""
    out = kvarter("gateway", "technician", "add", name, "--db", str(gw.db))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    fields = dict(ln.split(" = ") for ln in lines if " = " in ln)
    return TechnicianCredential(json.loads(fields["name"]), bytes.fromhex(json.loads(fields["id"])),
                                bytes.fromhex(json.loads(fields["secret"])),
                                state_dir=tmp_path / f"laptop-{name}")


def register(gw: RunningGateway, node: Node, technician: TechnicianCredential | None = None,
             **kw: object) -> dict[str, bool]:
    return asyncio.run(register_nodes("127.0.0.1", gw.port, [node], timeout=10,
                                      technician=technician or gw.technician,
                                      **kw))  # type: ignore[arg-type]


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[RunningGateway]:
    # A gateway as a city runs it: nodes must speak OSCORE too.
    g = launch_gateway(tmp_path, "--config", str(_required(tmp_path)), virtual_time=False,
                       oscore=None)
    yield g
    if g.proc.poll() is None:
        g.stop()


def _required(tmp_path: Path) -> Path:
    conf = tmp_path / "gateway.toml"
    conf.write_text('[gateway]\noscore = "required"\n')
    return conf


def test_a_registration_without_a_credential_is_refused_and_changes_nothing(
        gw: RunningGateway) -> None:
    body = Node("B1", "bin", 60.0, 17.0, key=KEY).to_json(with_key=True)
    for mid, path in ((1, [b"nodes", b"B1"]), (2, [b"nodes", b"B1"])):
        reply = request(gw, coap.PUT, path, body, mid=mid)
        assert coap.code_str(reply.code) == "4.01"
        assert b"technician" in reply.payload
    assert stored(gw.db) == {}
    # Nor from the admin networks' point of view: an unprotected request
    # from loopback (an admin network) is refused all the same.
    assert "registered node" not in log_text(gw)


def test_listings_without_a_credential_answer_nothing(gw: RunningGateway) -> None:
    gw.register(Node("B1", "bin", 60.0, 17.0, key=KEY))
    for mid, path in ((1, [b"nodes"]), (2, [b"nodes", b"B1"])):
        reply = request(gw, coap.GET, path, mid=mid)
        assert coap.code_str(reply.code) == "4.01"
        assert b"B1" not in reply.payload and b"node_id" not in reply.payload
    # With the credential the same gateway answers.
    assert [n.node_id for n in asyncio.run(
        list_nodes("127.0.0.1", gw.port, technician=gw.technician))] == ["B1"]


def test_a_wrong_key_an_unknown_kid_and_a_node_context_are_refused_alike(
        gw: RunningGateway, tmp_path: Path) -> None:
    real = gw.technician
    wrong_key = TechnicianCredential(real.name, real.kid, bytes(16), state_dir=tmp_path / "w")
    unknown = TechnicianCredential("nobody", b"\x7f\x7f", bytes(16), state_dir=tmp_path / "u")
    answers = set()
    for cred in (wrong_key, unknown):
        with pytest.raises(CredentialRefused, match="4.01") as e:
            register(gw, Node("B1", "bin", 60.0, 17.0, key=KEY), cred)
        answers.add(str(e.value))
        with pytest.raises(CredentialRefused, match="4.01"):
            asyncio.run(list_nodes("127.0.0.1", gw.port, technician=cred))
    # The same words whichever it was: nothing tells which technicians exist.
    assert len(answers) == 1
    assert stored(gw.db) == {}
    # A node's own context (a node taken from its pole, its key read from
    # flash) protects its reports, never a registration.
    gw.register(Node("B2", "bin", 60.0, 17.0, key=KEY))
    with sqlite3.connect(gw.db) as conn:
        (kid,) = conn.execute("SELECT kid FROM oscore_contexts WHERE node_id = 'B2'").fetchone()
    reply = as_node(gw, bytes(kid), bytes.fromhex(KEY), 1000, Code.PUT, "nodes/B2",
                    Node("B2", "bin", 10.0, 10.0, key=NEW_KEY).to_json(with_key=True))
    assert reply.code == Code.UNAUTHORIZED
    reply = as_node(gw, bytes(kid), bytes.fromhex(KEY), 1001, Code.GET, "nodes")
    assert reply.code == Code.UNAUTHORIZED and b"node_id" not in reply.payload
    assert stored(gw.db) == {"B2": (60.0, KEY)}


def selftests(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT node_id, ok FROM node_selftests").fetchall()


def test_a_self_test_result_needs_a_technician_and_not_a_nodes_own_key(
        gw: RunningGateway, tmp_path: Path) -> None:
    """A forged "passed" (or "failed") on the technician's screen: refused
    unprotected, under a wrong key, under the node's own context (its key
    read from its flash), and malformed; taken from a technician."""
    gw.register(Node("B2", "bin", 60.0, 17.0, key=KEY))
    forged = SelfTest(int(time.time()), True, (), "f00dfeedbeef").to_json()
    reply = request(gw, coap.PUT, [b"nodes", b"B2", b"selftest"], forged, mid=1)
    assert coap.code_str(reply.code) == "4.01" and b"technician" in reply.payload
    real = gw.technician
    wrong_key = TechnicianCredential(real.name, real.kid, bytes(16), state_dir=tmp_path / "w")
    with pytest.raises(CredentialRefused, match="4.01"):
        asyncio.run(send_selftest("127.0.0.1", gw.port, "B2", SelfTest(1, True),
                                  technician=wrong_key))
    with sqlite3.connect(gw.db) as conn:
        (kid,) = conn.execute("SELECT kid FROM oscore_contexts WHERE node_id = 'B2'").fetchone()
    reply = as_node(gw, bytes(kid), bytes.fromhex(KEY), 1000, Code.PUT, "nodes/B2/selftest",
                    forged)
    assert reply.code == Code.UNAUTHORIZED
    assert selftests(gw.db) == []
    for bad in (b"{", b'{"at": 1, "ok": true, "failed": ["sensor"]}',
                b'{"at": 1, "ok": false, "failed": ["<script>"]}',
                b'{"at": 99999999999, "ok": true}', b'{"at": 1, "ok": true, "root": 1}'):
        answer = managed(gw, aiocoap.PUT, "nodes/B2/selftest", bad)
        assert answer.code == Code.BAD_REQUEST, bad
    assert selftests(gw.db) == []
    asyncio.run(send_selftest("127.0.0.1", gw.port, "B2", SelfTest(1, False, ("sensor",)),
                              technician=gw.technician))
    assert selftests(gw.db) == [("B2", 0)]


class NodeSide(LaptopContext):
    """What a node's flash gives an attacker: its kid and key, no ID Context."""

    def __init__(self, kid: bytes, key: bytes, seqno: int) -> None:
        super().__init__(TechnicianCredential("node", kid, key), seqno, lambda upto: None)
        self.id_context = None
        self.derive_keys(b"", key)


def as_node(gw: RunningGateway, kid: bytes, key: bytes, seqno: int, code: Code, path: str,
            payload: bytes = b"") -> aiocoap.Message:
    async def go() -> aiocoap.Message:
        ctx = await aiocoap.Context.create_client_context()
        try:
            ctx.client_credentials[f"coap://127.0.0.1:{gw.port}/*"] = NodeSide(kid, key, seqno)
            req = aiocoap.Message(code=code, uri=f"coap://127.0.0.1:{gw.port}/{path}",
                                  payload=payload)
            return await asyncio.wait_for(ctx.request(req).response, 10)
        finally:
            await ctx.shutdown()
    return asyncio.run(go())


def test_a_revoked_technician_is_refused_by_the_running_gateway_at_once(
        gw: RunningGateway, tmp_path: Path) -> None:
    anna = added(gw, "anna", tmp_path)
    assert register(gw, Node("B1", "bin", 60.0, 17.0, key=KEY), anna) == {"B1": True}
    out = kvarter("gateway", "technician", "revoke", "anna", "--db", str(gw.db))
    assert out.returncode == 0, out.stderr
    # The very next request: no restart, no wait.
    with pytest.raises(CredentialRefused, match="4.01"):
        register(gw, Node("B2", "bin", 60.0, 17.0, key=NEW_KEY), anna)
    with pytest.raises(CredentialRefused, match="4.01"):
        asyncio.run(get_node("127.0.0.1", gw.port, "B1", technician=anna))
    assert set(stored(gw.db)) == {"B1"}
    assert "technician 'anna': credential revoked" in log_text(gw)
    # Her successor's credential works; hers stays dead after a restart too.
    bo = added(gw, "bo", tmp_path)
    assert register(gw, Node("B2", "bin", 60.0, 17.0, key=NEW_KEY), bo) == {"B2": True}
    assert gw.stop() == 0
    gw.proc = start_gateway(gw.db, gw.port, "--config", str(_required(tmp_path)),
                            virtual_time=False)
    with pytest.raises(CredentialRefused, match="4.01"):
        register(gw, Node("B3", "bin", 60.0, 17.0), anna)
    listing = kvarter("gateway", "technician", "list", "--db", str(gw.db)).stdout
    assert "anna" in listing and "revoked" in listing and "active" in listing


def test_replacing_a_node_needs_its_old_key_or_a_logged_override(gw: RunningGateway) -> None:
    gw.register(Node("L1", "light", 60.0, 17.0, "street-1", key=KEY))
    moved = Node("L1", "light", 10.0, 10.0, "elsewhere", key=NEW_KEY)
    # A plain PUT over it (what a registration was before): refused.
    with pytest.raises(ReplaceRefused, match="needs proof from its key"):
        register(gw, moved)
    # Proof computed from some other key: refused.
    with pytest.raises(ReplaceRefused, match="does not match"):
        register(gw, moved, old_keys={"L1": NEW_KEY})
    # Proof from the right key but for another new key: refused (a proof
    # is good for one replacement only).
    other_proof = replace_proof(KEY, "L1", "ab" * 16)
    reply = managed(gw, Code.PUT, f"nodes/L1?proof={other_proof}", moved.to_json(with_key=True))
    assert reply.code == Code.FORBIDDEN
    assert stored(gw.db) == {"L1": (60.0, KEY)}
    # The technician who has the old node's key may replace it...
    assert register(gw, moved, old_keys={"L1": KEY}) == {"L1": False}
    assert stored(gw.db) == {"L1": (10.0, NEW_KEY)}
    # ...and without it only by the operator's override, logged with the name.
    register(gw, Node("L1", "light", 11.0, 11.0, "elsewhere", key=KEY), override=True)
    assert stored(gw.db) == {"L1": (11.0, KEY)}
    log = log_text(gw)
    assert "technician 'tester' replaces node 'L1', with proof of its key" in log
    assert "technician 'tester' replaces node 'L1' by OVERRIDE" in log


@contextmanager
def recording_relay(gateway_port: int) -> Iterator[tuple[int, list[bytes]]]:
    """A UDP relay in front of the gateway that keeps every datagram the
    client sends: what someone on the management network records."""
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", 0))
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.connect(("127.0.0.1", gateway_port))
    seen: list[bytes] = []
    client: list[tuple[str, int]] = []
    stop = threading.Event()

    def pump() -> None:
        front.settimeout(0.05)
        back.settimeout(0.05)
        while not stop.is_set():
            try:
                data, addr = front.recvfrom(65536)
                client[:] = [addr]
                seen.append(data)
                back.send(data)
            except TimeoutError:
                pass
            try:
                data = back.recv(65536)
                if client:
                    front.sendto(data, client[0])
            except TimeoutError:
                pass

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        yield front.getsockname()[1], seen
    finally:
        stop.set()
        t.join()
        front.close()
        back.close()


def replay(gw: RunningGateway, datagram: bytes) -> coap.Message:
    """The recorded datagram sent again from another socket (so CoAP's own
    duplicate detection does not answer it), with a fresh message id."""
    msg = coap.decode(datagram)
    again = coap.Message(msg.mtype, msg.code, (msg.mid + 7) & 0xFFFF, msg.token, msg.options,
                         msg.payload)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(gw.addr)
        return exchange(sock, again)


def test_a_recorded_registration_replayed_changes_nothing(gw: RunningGateway,
                                                           tmp_path: Path) -> None:
    gw.register(Node("B1", "bin", 60.0, 17.0, key=KEY))
    with recording_relay(gw.port) as (relay_port, seen):
        asyncio.run(register_nodes("127.0.0.1", relay_port,
                                   [Node("B1", "bin", 61.0, 17.0, key=NEW_KEY)],
                                   technician=gw.technician, old_keys={"B1": KEY}))
    (recorded,) = [d for d in seen if coap.decode(d).code == coap.POST]  # OSCORE's outer code
    # The node is moved on, with proof of its new key.
    register(gw, Node("B1", "bin", 62.0, 17.0, key=KEY), old_keys={"B1": NEW_KEY})
    assert stored(gw.db) == {"B1": (62.0, KEY)}
    # The recorded registration again: a replay, refused, nothing changed.
    assert coap.code_str(replay(gw, recorded).code) == "4.01"
    assert stored(gw.db) == {"B1": (62.0, KEY)}
    # After a clean restart the window is the one kept: still refused, and
    # the technician is not locked out.
    assert gw.stop() == 0
    gw.proc = start_gateway(gw.db, gw.port, "--config", str(_required(tmp_path)),
                            virtual_time=False)
    assert coap.code_str(replay(gw, recorded).code) == "4.01"
    assert stored(gw.db) == {"B1": (62.0, KEY)}
    assert [n.node_id for n in asyncio.run(
        list_nodes("127.0.0.1", gw.port, technician=gw.technician))] == ["B1"]
    # After a crash the window is unknown: the replay draws only the Echo
    # challenge (a protected 4.01, its outer code 2.04 as every protected
    # answer's), and changes nothing; the technician's tool answers that
    # challenge by itself (RFC 8613 Appendix B.1.2).
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait()
    gw.proc = start_gateway(gw.db, gw.port, "--config", str(_required(tmp_path)),
                            virtual_time=False)
    challenge = replay(gw, recorded)
    assert challenge.option(OPT_OSCORE) is not None
    assert stored(gw.db) == {"B1": (62.0, KEY)}
    register(gw, Node("B1", "bin", 63.0, 17.0, key=NEW_KEY), old_keys={"B1": KEY})
    assert stored(gw.db) == {"B1": (63.0, NEW_KEY)}


def test_the_laptop_never_reuses_a_sequence_number(tmp_path: Path) -> None:
    cred = TechnicianCredential("anna", b"\x01", bytes(16), state_dir=tmp_path)
    request_ = aiocoap.Message(code=Code.GET, uri="coap://127.0.0.1/nodes")
    with laptop_context(cred) as ctx:
        ctx.protect(request_)
        # Written ahead before the number was used: a crash now leaves the
        # next run above every number this one may have used.
        ahead = json.loads(cred.state_file().read_text())["next_to_send"]
        assert ahead > ctx.sender_sequence_number - 1
        for _ in range(50):
            ctx.protect(request_)
        used = ctx.sender_sequence_number
    assert json.loads(cred.state_file().read_text())["next_to_send"] == used
    with laptop_context(cred) as ctx:
        assert ctx.sender_sequence_number == used
    # A state file that cannot be read is never taken as zero.
    cred.state_file().write_text("{")
    with pytest.raises(Exception, match="ask the gateway's admin for a new credential"):
        with laptop_context(cred):
            pass


def test_field_commands_without_a_credential_say_what_to_ask_for(gw: RunningGateway,
                                                                  tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(f'[gateway]\naddress = "127.0.0.1:{gw.port}"\n')
    line = one_line_error(kvarter("node", "register", "B1", "--role", "bin", "--lat", "60",
                                  "--lon", "17", "--site", str(site)))
    assert "no [technician] credential" in line and "admin" in line
    # A profile with a credential that others may read is refused too.
    site.write_text(site.read_text() + gw.technician.toml())
    site.chmod(0o644)
    line = one_line_error(kvarter("node", "register", "B1", "--role", "bin", "--lat", "60",
                                  "--lon", "17", "--site", str(site)))
    assert "chmod 600" in line
    site.chmod(0o600)
    out = kvarter("node", "register", "B1", "--role", "bin", "--lat", "60", "--lon", "17",
                  "--site", str(site))
    assert out.returncode == 0, out.stderr
    assert set(stored(gw.db)) == {"B1"}
    # Again over the same id: refused without the override, taken with it.
    line = one_line_error(kvarter("node", "register", "B1", "--role", "bin", "--lat", "61",
                                  "--lon", "17", "--site", str(site)))
    assert "--override" in line
    out = kvarter("node", "register", "B1", "--role", "bin", "--lat", "61", "--lon", "17",
                  "--site", str(site), "--override")
    assert out.returncode == 0, out.stderr
    assert stored(gw.db)["B1"][0] == 61.0


def test_the_listing_comes_back_protected_with_the_technicians_context(
        gw: RunningGateway) -> None:
    """The answer is verified with the technician's context (aiocoap's client
    marks it so): nobody in between can change a listing on its way."""
    async def go() -> None:
        async with technician_client("127.0.0.1", gw.port, gw.technician) as ctx:
            req = aiocoap.Message(code=Code.GET, uri=f"coap://127.0.0.1:{gw.port}/nodes")
            resp = await asyncio.wait_for(ctx.request(req).response, 10)
            assert resp.code == Code.CONTENT
            assert isinstance(resp.remote.security_context, LaptopContext)
    asyncio.run(go())


def test_admin_networks_stay_an_additional_filter(tmp_path: Path) -> None:
    """A valid credential from outside the admin networks is refused too."""
    conf = tmp_path / "gateway.toml"
    conf.write_text('[gateway]\nadmin_networks = ["10.20.0.0/16"]\n')
    g = launch_gateway(tmp_path, "--config", str(conf), virtual_time=False, oscore=None)
    try:
        reply = managed(g, Code.PUT, "nodes/B1",
                        Node("B1", "bin", 60.0, 17.0, key=KEY).to_json(with_key=True))
        assert reply.code == Code.FORBIDDEN and b"admin networks" in reply.payload
        assert managed(g, Code.GET, "nodes").code == Code.FORBIDDEN
    finally:
        g.stop()
    assert stored(g.db) == {}
