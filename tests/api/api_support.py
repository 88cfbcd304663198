"""A real gateway with its HTTP API, and an account of every role on it: the
first admin made with `kvarter users add` as an operator would, the others
through the API itself."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from conftest import RunningGateway

from firmware.proto import coap

ROLES = ("admin", "operator", "planner", "crew", "technician")
PASSWORD = "a long enough password"
PROBLEM = "application/problem+json"


def kvarter(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def add_first_admin(db: Path, name: str = "admin") -> None:
    proc = kvarter("users", "add", name, "--role", "admin", "--db", str(db),
                   "--password-stdin", stdin=PASSWORD + "\n")
    assert proc.returncode == 0, proc.stderr


def login(gw: RunningGateway, username: str, password: str = PASSWORD) -> httpx.Client:
    """A client holding a browser session: the cookie, and the CSRF token in
    its headers (as the web app sends it)."""
    r = httpx.post(f"{gw.http_url}/api/v1/session",
                   json={"username": username, "password": password}, timeout=30)
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=gw.http_url, timeout=30,
                        cookies={"kvarter_session": r.cookies["kvarter_session"]},
                        headers={"X-CSRF-Token": r.json()["csrf_token"]})


def token_client(gw: RunningGateway, session: httpx.Client, name: str = "test") -> httpx.Client:
    """A program's client: a bearer token made by the session's account."""
    r = session.post("/api/v1/me/tokens", json={"name": name})
    assert r.status_code == 201, r.text
    return httpx.Client(base_url=gw.http_url, timeout=30,
                        headers={"Authorization": f"Bearer {r.json()['token']}"})


@dataclass
class Accounts:
    gw: RunningGateway
    sessions: dict[str, httpx.Client] = field(default_factory=dict)
    tokens: dict[str, httpx.Client] = field(default_factory=dict)

    def close(self) -> None:
        for c in [*self.sessions.values(), *self.tokens.values()]:
            c.close()


def make_accounts(gw: RunningGateway) -> Accounts:
    """One account per role (the crew's bound to crew "truck-1"), each with a
    session and a bearer token."""
    add_first_admin(gw.db)
    accounts = Accounts(gw)
    admin = login(gw, "admin")
    accounts.sessions["admin"] = admin
    for role in ROLES[1:]:
        body = {"username": role, "role": role, "password": PASSWORD}
        if role == "crew":
            body["crew"] = "truck-1"
        r = admin.post("/api/v1/users", json=body)
        assert r.status_code == 201, r.text
        accounts.sessions[role] = login(gw, role)
    for role in ROLES:
        accounts.tokens[role] = token_client(gw, accounts.sessions[role], f"{role}-program")
    return accounts


def assert_problem(r: httpx.Response, status: int) -> str:
    """The answer is an RFC 9457 problem with this status and a one-line
    detail; returns the detail."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["status"] == status
    assert body["type"] == "about:blank" and body["title"]
    detail = body["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail, detail
    assert "Traceback" not in detail
    return str(detail)


def post_report(gw: RunningGateway, kind: bytes, node_id: str, payload: bytes,
                mid: int = 1) -> str:
    """A node's report as a confirmable CoAP POST from a fresh socket,
    retransmitted until answered; the response code (2.04: stored)."""
    msg = coap.Message(coap.CON, coap.POST, mid, b"\x42",
                       [(coap.OPT_URI_PATH, kind), (coap.OPT_URI_PATH, node_id.encode())],
                       payload)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(gw.addr)
        sock.settimeout(1.0)
        for _ in range(coap.MAX_RETRANSMIT + 1):
            sock.send(coap.encode(msg))
            try:
                while True:
                    reply = coap.decode(sock.recv(65536))
                    if reply.mid == mid:
                        return str(coap.code_str(reply.code))
            except TimeoutError:
                continue
    raise AssertionError("the gateway does not answer")


def listen_events(client: httpx.Client, into: queue.Queue[tuple[str, dict[str, Any]]],
                  ready: threading.Event) -> None:
    """Put each live event of the gateway's stream (kind, data) into `into`;
    `ready` is set once the stream is connected. Ends when the test closes
    the client."""
    try:
        with client.stream("GET", "/api/v1/events", timeout=120) as r:
            kind = None
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                elif line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind is not None:
                    into.put((kind, json.loads(line.removeprefix("data: "))))
    except httpx.HTTPError:
        return
