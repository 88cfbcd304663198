"""Real peers for the tests: a gateway process, a mosquitto broker, each on a
free loopback port and stopped afterwards."""

from __future__ import annotations

import asyncio
import queue
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiocoap
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.coap.client import register_nodes, technician_client
from gateway.records import Node
from gateway.security.technician import TechnicianCredential
from sim.broker import start_mosquitto
from sim.gateway_process import (
    free_tcp_port,
    start_gateway_on_free_ports,
    stop_gateway,
    technician_for,
)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The command failed with one line on stderr, and no traceback: what a
    user must see for bad input. Returns that line."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@dataclass
class RunningGateway:
    port: int
    db: Path
    proc: subprocess.Popen[bytes]
    http_port: int | None = None

    @property
    def http_url(self) -> str:
        """The base of its HTTP API, e.g. http://127.0.0.1:PORT."""
        assert self.http_port is not None, "this gateway runs without its HTTP API"
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def addr(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def technician(self) -> TechnicianCredential:
        """A technician's credential for this gateway (made once, as
        `kvarter gateway technician add` makes it): what registrations and
        listings need."""
        return technician_for(self.db, "tester")

    def register(self, *nodes: Node, override: bool = False) -> None:
        asyncio.run(register_nodes("127.0.0.1", self.port, nodes, technician=self.technician,
                                   override=override))

    def stop(self) -> int:
        return stop_gateway(self.proc)


def managed(gw: RunningGateway, code: aiocoap.numbers.codes.Code, path: str,
            payload: bytes = b"", technician: TechnicianCredential | None = None,
            if_none_match: bool = False) -> aiocoap.Message:
    """One management request (path with its query, e.g. "nodes?limit=5"),
    protected with a technician's credential (the gateway's test technician
    unless given) through aiocoap's client OSCORE; the answer, unprotected."""
    async def go() -> aiocoap.Message:
        async with technician_client("127.0.0.1", gw.port,
                                     technician or gw.technician) as ctx:
            req = aiocoap.Message(code=code, uri=f"coap://127.0.0.1:{gw.port}/{path}",
                                  payload=payload)
            req.opt.if_none_match = if_none_match
            return await asyncio.wait_for(ctx.request(req).response, 10)
    return asyncio.run(go())


def technician_lines(db: Path, name: str = "field") -> str:
    """The [technician] lines of a site profile, as the gateway's admin hands
    them out, for a credential of the gateway with this database (made if
    need be, also before the gateway first runs). A credential of its own:
    the field tools keep their sequence numbers apart from the tests'."""
    return technician_for(db, name).toml()


@pytest.fixture(autouse=True)
def _laptop_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The field tools keep a technician credential's sequence numbers under
    # $XDG_STATE_HOME: each test its own, never the user's.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


def launch_gateway(tmp_path: Path, *extra: str, virtual_time: bool = True,
                   oscore: str | None = "optional") -> RunningGateway:
    """A gateway on a free port. oscore: "optional" (most tests send plain
    reports from nodes without keys, readable byte by byte), "required", or
    None for the gateway's default or a --config file's setting."""
    db = tmp_path / "gateway.sqlite"
    if oscore is not None:
        extra = (*extra, "--oscore", oscore)
    started = start_gateway_on_free_ports(db, *extra, virtual_time=virtual_time)
    return RunningGateway(started.port, db, started.proc, started.http_port)


def wait_for_http(gw: RunningGateway, timeout_s: float = 20.0) -> None:
    """Until the gateway's HTTP API answers (it starts after CoAP)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", gw.http_port or 0), timeout=1):
                return
        except OSError:
            if gw.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the gateway's HTTP API did not answer") from None
            time.sleep(0.02)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    gw = launch_gateway(tmp_path)
    yield gw
    if gw.proc.poll() is None:
        gw.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    port = free_tcp_port()
    proc = start_mosquitto(port, tmp_path)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def subscriber(port: int, topic: str) -> tuple[mqtt.Client, queue.Queue[mqtt.MQTTMessage]]:
    inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed = queue.Queue[bool]()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-subscriber")
    client.on_message = lambda c, u, msg: inbox.put(msg)
    client.on_subscribe = lambda *a: subscribed.put(True)
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    subscribed.get(timeout=10)
    return client, inbox
