"""Registrations the gateway did not get: a node provisioned while the gateway
was out of reach is configured all the same, and its registration waits on
the laptop until `kvarter node register --pending` delivers it, under the
technician credential of the site profile. Such a node is given its OSCORE
kid at once, chosen by the laptop (4 random bytes: the gateway's own are 1
or 2), so that it protects its reports from the start and nobody has to come
back to it; the registration carries that kid and the gateway takes it. The
file holds the nodes' keys (and, for a replacement, the replaced node's key
as proof), so only its owner may read it.

A self-test the gateway did not get waits there too, for the nodes screen:
it is given with the registrations, after them (the gateway takes a node's
self-test only once it has the node)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.coap.client import (
    KidTaken,
    NodeExists,
    RegistryError,
    parse_hostport,
    register_nodes,
    send_selftest,
)
from gateway.records import CHOSEN_KID_LEN, Node, RegistrationError, SelfTest
from gateway.security.technician import TechnicianCredential, write_json_atomically
from tools.field.errors import FieldError

ENV = "KVARTER_PENDING"


def pending_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV):
        return Path(env[ENV])
    state = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "kvarter" / "pending-registrations.json"


@dataclass(frozen=True)
class Pending:
    node: Node  # with its key
    gateway: str  # HOST:PORT
    replace: bool  # a replacement node taking over an id the gateway has
    saved_at: float
    old_key: str | None = None  # the replaced node's key: proof for the gateway
    override: bool = False  # replacing without it, on the operator's decision
    kid: str | None = None  # the kid chosen for it (hex), in its config.json already

    def to_dict(self) -> dict[str, object]:
        return {"node": json.loads(self.node.to_json(with_key=True)), "gateway": self.gateway,
                "replace": self.replace, "saved_at": self.saved_at, "old_key": self.old_key,
                "override": self.override, "kid": self.kid}


@dataclass(frozen=True)
class PendingSelfTest:
    node_id: str
    gateway: str  # HOST:PORT
    result: SelfTest

    def to_dict(self) -> dict[str, object]:
        return {"node_id": self.node_id, "gateway": self.gateway,
                "result": json.loads(self.result.to_json())}


@dataclass
class Waiting:
    """Everything the file keeps."""
    registrations: list[Pending]
    selftests: list[PendingSelfTest]


def choose_kid() -> str:
    """A kid for a node the gateway cannot be asked about now (hex)."""
    return secrets.token_bytes(CHOSEN_KID_LEN).hex()


def load(path: Path) -> list[Pending]:
    return load_all(path).registrations


def load_all(path: Path) -> Waiting:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return Waiting([], [])
    except (OSError, ValueError) as e:
        raise FieldError(f"cannot read the pending registrations in {path} ({e}): move the "
                         "file aside and register those nodes with 'kvarter node register'"
                         ) from None
    try:
        registrations = [
            Pending(Node.from_dict(p["node"]), str(p["gateway"]), bool(p["replace"]),
                    float(p["saved_at"]),
                    None if p.get("old_key") is None else str(p["old_key"]),
                    bool(p.get("override", False)),
                    None if p.get("kid") is None else str(p["kid"]))
            for p in raw.get("registrations", [])]
        # The gateway's own check of a self-test, with no clock limit here:
        # the laptop's clock made it.
        selftests = [PendingSelfTest(str(t["node_id"]), str(t["gateway"]), SelfTest.from_json(
            json.dumps(t["result"]).encode(), now=float("inf")))
            for t in raw.get("selftests", [])]
        return Waiting(registrations, selftests)
    except (KeyError, TypeError, ValueError, AttributeError, RegistrationError) as e:
        raise FieldError(f"the pending registrations in {path} are damaged ({e}): move the "
                         "file aside and register those nodes with 'kvarter node register'"
                         ) from None


def store(path: Path, entries: list[Pending], selftests: list[PendingSelfTest]) -> None:
    """Write atomically (a new file renamed over the old), readable by its
    owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not entries and not selftests:
        path.unlink(missing_ok=True)
        return
    write_json_atomically(path, {"registrations": [p.to_dict() for p in entries],
                                 "selftests": [t.to_dict() for t in selftests]}, indent=1)


def save(path: Path, node: Node, gateway: str, replace: bool, old_key: str | None = None,
         override: bool = False, kid: str | None = None) -> None:
    """Keep one registration per node id: the newest provisioning wins."""
    waiting = load_all(path)
    entries = [p for p in waiting.registrations if p.node.node_id != node.node_id]
    entries.append(Pending(node, gateway, replace, time.time(), old_key, override, kid))
    store(path, entries, waiting.selftests)


def save_selftest(path: Path, node_id: str, gateway: str, result: SelfTest) -> None:
    """Keep the latest self-test per node: the newest says how it stands."""
    waiting = load_all(path)
    kept = [t for t in waiting.selftests if t.node_id != node_id]
    kept.append(PendingSelfTest(node_id, gateway, result))
    store(path, waiting.registrations, kept)


def registration_waits(path: Path, node_id: str) -> bool:
    return any(p.node.node_id == node_id for p in load(path))


@dataclass(frozen=True)
class Outcome:
    node_id: str
    gateway: str
    ok: bool
    text: str


def deliver(path: Path, technician: TechnicianCredential,
            timeout: float = 5.0) -> list[Outcome]:
    """Try every pending registration once, then every pending self-test
    whose node is no longer waiting; the delivered ones are removed from the
    file, the others stay for the next try."""
    waiting = load_all(path)
    entries = waiting.registrations
    outcomes: list[Outcome] = []
    left: list[Pending] = []
    for p in entries:
        try:
            host, port = parse_hostport(p.gateway)
        except ValueError as e:
            raise FieldError(str(e)) from None
        kids: dict[str, str] = {}
        try:
            created = asyncio.run(register_nodes(
                host, port, [p.node], timeout=timeout, only_new=not p.replace, kids=kids,
                technician=technician,
                old_keys={p.node.node_id: p.old_key} if p.old_key is not None else None,
                override=p.override,
                chosen_kids={p.node.node_id: p.kid} if p.kid is not None else None,
                ))[p.node.node_id]
        except KidTaken:
            left.append(p)
            outcomes.append(Outcome(p.node.node_id, p.gateway, False,
                                    f"another node at the gateway has the kid {p.kid} chosen "
                                    f"for it (very rare): provision {p.node.node_id} again "
                                    "to give it another"))
            continue
        except NodeExists:
            left.append(p)
            outcomes.append(Outcome(p.node.node_id, p.gateway, False,
                                    "the gateway already has this id: if this node replaces "
                                    f"it, run 'kvarter node provision {p.node.node_id} ... "
                                    "--replace' again"))
            continue
        except RegistryError as e:
            left.append(p)
            outcomes.append(Outcome(p.node.node_id, p.gateway, False, str(e)))
            continue
        text = "registered" if created else "updated"
        kid = kids.get(p.node.node_id)
        if kid is not None and kid == p.kid:
            text += (f" with the kid {kid} it was given at provisioning: the gateway takes "
                     "its protected reports from now on")
        elif kid is not None:
            # Saved by an older kvarter (no kid chosen), or a gateway that
            # gives its own: the node's config.json does not have this kid.
            text += (f"; its OSCORE kid is {kid}, which the node does not have yet: it "
                     "reports unprotected until provisioned again with --replace")
        outcomes.append(Outcome(p.node.node_id, p.gateway, True, text))
    still: list[PendingSelfTest] = []
    waits = {p.node.node_id for p in left}
    for t in waiting.selftests:
        if t.node_id in waits:
            still.append(t)
            outcomes.append(Outcome(t.node_id, t.gateway, False,
                                    "its self-test waits for its registration"))
            continue
        try:
            host, port = parse_hostport(t.gateway)
            asyncio.run(send_selftest(host, port, t.node_id, t.result, timeout=timeout,
                                      technician=technician))
        except (RegistryError, ValueError) as e:
            still.append(t)
            outcomes.append(Outcome(t.node_id, t.gateway, False, f"self-test: {e}"))
            continue
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(t.result.at))
        outcomes.append(Outcome(t.node_id, t.gateway, True,
                                f"self-test of {when} given to the gateway for its nodes screen"))
    store(path, left, still)
    return outcomes
