"""For the lighting tests: streets and poles drawn in metres on a local plane
around a point in Stockholm, written as WGS84 GeoJSON; the operator's CLI as a
process; a light node's UDP socket standing in for a pole."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import aiocoap
from aiocoap.numbers.codes import Code
from conftest import RunningGateway
from oscore_support import NodeSide

from firmware import codec
from firmware.lighting import payload as light_codec
from firmware.lighting.node import LightNode
from firmware.proto import coap
from gateway.coap.client import register_nodes
from gateway.records import Node

ORIGIN = (59.3300, 18.0600)
M_PER_DEG = 111_320.0

XY = tuple[float, float]


def lonlat(x: float, y: float) -> list[float]:
    lat0, lon0 = ORIGIN
    return [lon0 + x / (M_PER_DEG * math.cos(math.radians(lat0))), lat0 + y / M_PER_DEG]


def geojson(streets: Sequence[tuple[str, Sequence[XY]]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": name},
         "geometry": {"type": "LineString", "coordinates": [lonlat(*p) for p in pts]}}
        for name, pts in streets]})


def point_along(path: Sequence[XY], s: float) -> XY:
    """The point s metres along a polyline."""
    for a, b in zip(path, path[1:], strict=False):
        seg = math.dist(a, b)
        if s <= seg:
            f = s / seg
            return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))
        s -= seg
    return path[-1]


def pole(node_id: str, x: float, y: float, zone: str = "street-1",
         addr: int | None = None, key: str | None = None) -> Node:
    lon, lat = lonlat(x, y)
    return Node(node_id, "light", lat, lon, zone, addr, key)


def lights_cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", "lights", *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=120)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class FakeLight:
    """A light node's UDP socket: sends uplinks, receives commands. Given its
    key and kid (a keyed pole), it protects its uplinks with OSCORE as the
    firmware does (aiocoap's implementation, the node id left out of the
    path); a gateway never takes a keyed pole's plain uplink."""

    def __init__(self, node_id: str, gw: RunningGateway, key: str | None = None,
                 kid: str | None = None) -> None:
        self.node_id = node_id
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.gw = gw.addr
        self.mid = 100
        self.oscore: NodeSide | None = None
        if key is not None:
            assert kid is not None, "a keyed pole needs the kid its registration gave"
            self.oscore = NodeSide(bytes.fromhex(kid), bytes.fromhex(key))

    def post(self, path: str, payload: bytes) -> None:
        self.mid += 1
        if self.oscore is not None:
            inner = aiocoap.Message(code=Code.POST,
                                    uri=f"coap://gateway/{path}", payload=payload,
                                    content_format=coap.CONTENT_OCTET_STREAM,
                                    no_response=coap.NO_RESPONSE_2XX)
            inner.direction = aiocoap.message.Direction.OUTGOING
            protected, _ = self.oscore.protect(inner)
            protected.mtype, protected.mid, protected.token = aiocoap.NON, self.mid, b"\x01\x02"
            self.sock.sendto(bytes(protected.encode()), self.gw)
            return
        msg = coap.Message(coap.NON, coap.POST, self.mid, b"\x01\x02", [
            (coap.OPT_URI_PATH, path.encode()), (coap.OPT_URI_PATH, self.node_id.encode()),
            (coap.OPT_CONTENT_FORMAT, bytes((coap.CONTENT_OCTET_STREAM,))),
            (coap.OPT_NO_RESPONSE, bytes((coap.NO_RESPONSE_2XX,)))], payload)
        self.sock.sendto(coap.encode(msg), self.gw)

    def status(self, seq: int, level: int = 20, energy_dwh: int = 1234) -> None:
        self.post("s", light_codec.encode_status(
            light_codec.Status(seq, int(time.time()), level, energy_dwh, light_codec.STATUS_NIGHT)))

    def presence(self, seq: int, flags: int = codec.PRESENCE_SOURCE_RADAR, speed: float = 1.4,
                 count: int = 1, at: int | None = None) -> None:
        """at: the measured time (default now)."""
        self.post("p", codec.encode_presence(codec.PresenceEvent(
            seq, int(time.time()) if at is None else at, count, 100, speed, flags)))

    def commands(self, wait: float) -> list[tuple[float, light_codec.Brighten]]:
        """(arrival time, command) of the commands received within `wait` s."""
        out = []
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                msg = coap.decode(self.sock.recv(1500))
            except TimeoutError:
                break
            if msg.path() == "c":
                assert msg.mtype == coap.NON
                assert msg.option(coap.OPT_NO_RESPONSE) == bytes((coap.NO_RESPONSE_2XX,))
                out.append((time.monotonic(), light_codec.decode_brighten(msg.payload)))
        return out

    def close(self) -> None:
        self.sock.close()


def wait_for_addresses(db: Path, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            if conn.execute("SELECT COUNT(*) FROM light_addresses").fetchone()[0] >= count:
                return
        time.sleep(0.05)
    raise AssertionError("the gateway did not learn the nodes' addresses")


class RealPole:
    """The light node firmware (firmware/lighting/node.py) on the simulator's
    hardware layer, with a real UDP socket to a running gateway and the key
    and kid provisioning gives it; polled in a thread of its own."""

    def __init__(self, node_id: str, gw: RunningGateway, addr: int, kid: str,
                 key: str | None = None) -> None:
        from sim.district import node_key
        from sim.engine import Engine
        from sim.hal import PresenceInput, RecordingLed, SimHal
        from sim.runner import node_config

        self.node_id = node_id
        self.key = key or node_key(node_id)
        engine = Engine(int(time.time()))
        self.hal = SimHal(engine.clock, gw.addr, addr)
        self.hal.led, self.hal.presence = RecordingLed(engine.clock), PresenceInput()
        self.node = LightNode(node_config(node_id, "light", gw.addr, addr=addr, key=self.key,
                                          kid=kid), self.hal)
        self.lock = threading.Lock()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def addr(self) -> tuple[str, int]:
        return tuple(self.hal.net.sock.getsockname())  # type: ignore[return-value]

    def _run(self) -> None:
        while not self._stop:
            with self.lock:
                self.node.poll()
            time.sleep(0.002)

    def status(self) -> None:
        """A confirmable status, protected: the gateway learns the pole's address."""
        with self.lock:
            self.node._send_status(self.hal.clock.ms(), True)

    def wait(self, what: Callable[[LightNode], object], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if what(self.node):
                    return
            time.sleep(0.02)
        raise AssertionError(f"{self.node_id}: not reached within {timeout} s")

    def send_to(self, data: bytes) -> None:
        """A datagram to the pole, from anyone."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(data, self.addr)

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)
        self.hal.net.sock.close()


def register_keyed(gw: RunningGateway, *nodes: Node) -> dict[str, str]:
    """Register nodes with keys; node id -> kid (hex), as provisioning keeps."""
    kids: dict[str, str] = {}
    asyncio.run(register_nodes("127.0.0.1", gw.port, nodes, kids=kids, technician=gw.technician))
    return kids


class Sniffer(FakeLight):
    """A pole's socket that keeps every datagram it is sent: what anyone on
    the poles' network can record."""

    def frames(self, wait: float) -> list[bytes]:
        out = []
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                out.append(self.sock.recv(1500))
            except TimeoutError:
                break
        return out
