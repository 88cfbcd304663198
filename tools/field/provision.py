"""`kvarter node provision`: a node's config.json, checked on the laptop by the
firmware's own parser, written to the node and read back, and the node
registered with its gateway (with the per-node key) so that its first report
is accepted. The gateway is asked under the technician's credential from the
site profile. Everything that can be refused is refused before the node is
touched; a node that replaces a registered one proves the old node's key
(read from the node at hand) or comes with the operator's override."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from firmware.settings import ConfigError, check_key, parse
from gateway.coap.client import (
    GatewayUnreachable,
    NodeExists,
    RegistryError,
    get_node,
    register_nodes,
)
from gateway.records import Node, RegistrationError
from gateway.security.technician import TechnicianCredential
from tools.field import pending
from tools.field.deploy import sha256
from tools.field.errors import FieldError
from tools.field.node_link import NodeLink
from tools.field.progress import Reporter
from tools.field.site import Site, check_position, need_technician

CONFIG = "/config.json"
REGISTERED_ROLES = ("bin", "light")  # a bridge is the gateway's own radio
GATEWAY_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Request:
    node_id: str
    role: str
    lat: float | None = None
    lon: float | None = None
    kind: str = ""  # bin type or light zone, as the registry keeps it
    transport: str = "wifi"
    wifi_ssid: str | None = None
    wifi_password: str | None = None
    lora: Mapping[str, Any] = field(default_factory=dict)
    gateway: str | None = None  # HOST:PORT where this laptop reaches the gateway
    node_gateway: str | None = None  # HOST:PORT where the node reaches it
    keys: Mapping[str, Any] = field(default_factory=dict)  # more config.json keys
    replace: bool = False
    # Replace a registered node whose key is lost (the operator's decision,
    # logged at the gateway with the technician's name).
    override: bool = False


def parse_set(items: tuple[str, ...]) -> dict[str, Any]:
    """--set KEY=VALUE: VALUE as JSON (numbers, true, lists), else as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FieldError(f"--set {item!r} is not KEY=VALUE, e.g. --set empty_mm=1100")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def request_from(site: Site, node_id: str, role: str, lat: float | None, lon: float | None,
                 bin_type: str | None = None, zone: str | None = None,
                 wifi_ssid: str | None = None, wifi_password: str | None = None,
                 lora: bool | None = None, sf: int | None = None, modem: str | None = None,
                 output_power: int | None = None, gateway: str | None = None,
                 keys: Mapping[str, Any] | None = None, replace: bool = False,
                 override: bool = False) -> Request:
    """Options over the site profile's defaults."""
    use_lora = lora if lora is not None else (site.transport == "lora" or sf is not None)
    radio = dict(site.lora)
    for k, v in (("sf", sf), ("modem", modem), ("output_power", output_power)):
        if v is not None:
            radio[k] = v
    if role == "bin":
        kind = bin_type if bin_type is not None else site.bin_type or ""
    elif role == "light":
        kind = zone if zone is not None else site.zone or ""
    else:
        kind = ""
    merged = {**site.role_keys.get(role, {}), **(keys or {})}
    return Request(node_id, role, lat, lon, kind, "lora" if use_lora else "wifi",
                   wifi_ssid if wifi_ssid is not None else site.wifi_ssid,
                   wifi_password if wifi_password is not None else site.wifi_password,
                   radio if use_lora else {}, gateway or site.gateway,
                   None if gateway else site.node_gateway, merged, replace or override,
                   override)


def _split(hostport: str) -> tuple[str, int]:
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise FieldError(f"gateway {hostport!r} is not HOST:PORT, e.g. 10.20.0.1:5683")
    return host.strip("[]"), int(port)


def build_config(req: Request, key: str, addr: int | None = None,
                 kid: str | None = None) -> dict[str, Any]:
    cfg: dict[str, Any] = {"id": req.node_id, "role": req.role, "key": key}
    if kid is not None:
        cfg["kid"] = kid  # OSCORE: given by the gateway at registration
    if req.role != "bridge":
        cfg["transport"] = req.transport
        if req.transport == "wifi":
            gw = req.node_gateway or req.gateway
            if gw is None:
                raise FieldError("no gateway address for the node: give --gateway HOST:PORT or "
                                 "[gateway] address in the site profile")
            host, port = _split(gw)
            cfg.update(gateway_host=host, gateway_port=port)
            if not req.wifi_ssid:
                raise FieldError("a Wi-Fi node needs --wifi-ssid and --wifi-password (or [wifi] in "
                                 "the site profile); a node on LoRa needs --lora")
            if req.wifi_password is None:
                raise FieldError(f"no password for Wi-Fi {req.wifi_ssid!r}: give --wifi-password "
                                 "(\"\" for an open network) or [wifi] password in the site "
                                 "profile")
            cfg.update(wifi_ssid=req.wifi_ssid, wifi_password=req.wifi_password)
        else:
            cfg["lora"] = dict(req.lora)
    if req.lat is not None and req.lon is not None:
        cfg.update(lat=req.lat, lon=req.lon)
    if addr:
        cfg["addr"] = addr
    for k, v in req.keys.items():
        if k in ("id", "role", "key", "kid"):
            raise FieldError(f"--set {k}=... is not allowed: {k} comes from the command itself")
        cfg[k] = v
    return cfg


def config_text(cfg: Mapping[str, Any]) -> str:
    """config.json as the node gets it, refused here with the firmware's own
    one-line message if the node would refuse it at boot."""
    text = json.dumps(cfg, indent=1, ensure_ascii=False) + "\n"
    try:
        parse(text)
    except ConfigError as e:
        raise FieldError(f"config for {cfg.get('id')} refused: {e}", short="bad config") from None
    return text


def check_request(req: Request, site: Site) -> Node | None:
    """Everything that needs no device and no gateway; the registration to
    send (without its key yet), or None for a bridge."""
    if req.role in REGISTERED_ROLES and (req.lat is None or req.lon is None):
        raise FieldError(f"a {req.role} node needs --lat and --lon: its place on the map")
    if req.lat is not None and req.lon is not None:
        check_position(site.area, req.lat, req.lon, site.where())
    if req.role not in REGISTERED_ROLES:
        return None
    if req.gateway is None:
        raise FieldError("no gateway to register the node with: give --gateway HOST:PORT or "
                         "[gateway] address in the site profile")
    try:
        return Node.from_dict({"node_id": req.node_id, "role": req.role, "lat": req.lat,
                               "lon": req.lon, "kind": req.kind})
    except RegistrationError as e:
        raise FieldError(str(e)) from None


def _gateway_node(gateway: str, node_id: str,
                  technician: TechnicianCredential) -> Node | None | GatewayUnreachable:
    host, port = _split(gateway)
    try:
        return asyncio.run(get_node(host, port, node_id, GATEWAY_TIMEOUT_S,
                                    technician=technician))
    except GatewayUnreachable as e:
        return e
    except RegistryError as e:
        raise FieldError(str(e)) from None


@dataclass(frozen=True)
class Provisioned:
    node_id: str
    registered: str  # what happened at the gateway, in words
    addr: int | None


def write_config(link: NodeLink, text: str) -> None:
    """Written beside, renamed over, read back: a node unplugged halfway keeps
    its old config rather than half a new one."""
    data = text.encode()
    link.write(CONFIG + ".new", data)
    link.replace_file(CONFIG + ".new", CONFIG)
    have, _ = link.tree(CONFIG)
    if have.get(CONFIG) != sha256(data):
        raise FieldError("config.json on the node differs from what was written: provision "
                         "again; if it repeats, the node's flash may be failing")


def old_key_on(link: NodeLink, node_id: str) -> str | None:
    """The key in the config.json of the node at hand, if it is node_id's:
    what proves to the gateway that this node may be replaced."""
    old = link.read_json(CONFIG)
    if not isinstance(old, dict) or old.get("id") != node_id:
        return None
    try:
        return str(check_key(old.get("key")))
    except ConfigError:
        return None


def provision(req: Request, site: Site, open_link: Callable[[], NodeLink], reporter: Reporter,
              pending_file: Path) -> Provisioned:
    node = check_request(req, site)
    key = secrets.token_hex(16)
    text = config_text(build_config(req, key))
    existing: Node | None | GatewayUnreachable = None
    technician = need_technician(site) if node is not None else None
    if node is not None:
        assert req.gateway is not None and technician is not None
        existing = _gateway_node(req.gateway, req.node_id, technician)
        if isinstance(existing, Node) and not req.replace:
            raise FieldError(
                f"the gateway at {req.gateway} already has a node {req.node_id} ({existing.role} "
                f"at {existing.lat}, {existing.lon}): choose a new id, or give --replace if this "
                "node replaces it (it keeps that id and its history)", short="duplicate id")
    addr = req.keys.get("addr") or (existing.addr if isinstance(existing, Node) else None)
    if addr:
        text = config_text(build_config(req, key, addr))
    with open_link() as link:
        old_key = old_key_on(link, req.node_id) if node is not None and req.replace else None
        if isinstance(existing, Node) and old_key is None and not req.override:
            raise FieldError(
                f"the node at hand has no key of {req.node_id}, so it cannot prove to the "
                f"gateway that it may replace the registered {req.node_id}: if that node's key "
                "is lost (a broken node), the operator decides: give --override (logged at "
                "the gateway with your name)", short="no old key")
        write_config(link, text)
        reporter.say("config     written to the node, read back and verified")
        if node is None:
            return Provisioned(req.node_id, "a bridge is not registered", None)
        node = replace(node, key=key)
        assert req.gateway is not None and technician is not None
        if isinstance(existing, GatewayUnreachable):
            raise _saved(req, node, pending_file, old_key, link, addr, reporter)
        host, port = _split(req.gateway)
        kids: dict[str, str] = {}
        try:
            created = asyncio.run(register_nodes(
                host, port, [node], GATEWAY_TIMEOUT_S, only_new=not req.replace, kids=kids,
                technician=technician,
                old_keys={req.node_id: old_key} if old_key is not None else None,
                override=req.override))[req.node_id]
        except NodeExists:
            raise FieldError(f"the gateway at {req.gateway} got another node {req.node_id} "
                             "meanwhile: check with the office which one is right, then "
                             "provision again (--replace to take over the id)",
                             short="duplicate id") from None
        except GatewayUnreachable:
            raise _saved(req, node, pending_file, old_key, link, addr, reporter) from None
        except RegistryError as e:
            raise FieldError(str(e)) from None
        new_addr = addr
        if req.role == "light" and not addr:
            # The gateway gives a new pole its short address: the pole must
            # know it to obey commands that name it.
            got = _gateway_node(req.gateway, req.node_id, technician)
            if isinstance(got, Node) and got.addr:
                new_addr = got.addr
        # The gateway names the node's OSCORE context with its kid: with it
        # in config.json the node protects everything it says to the gateway.
        kid = kids.get(req.node_id)
        if kid is not None or new_addr != addr:
            addr = new_addr
            write_config(link, config_text(build_config(req, key, addr, kid)))
            if kid is not None:
                reporter.say(f"kid        {kid} written to the node: its reports go protected "
                             "(OSCORE)")
    how = ("registered as a new node" if created else
           "registered as the replacement: same id, its history kept")
    return Provisioned(req.node_id, f"{how} at {req.gateway}", addr or None)


class RegistrationSaved(FieldError):
    """The node is configured; its registration waits on the laptop."""


def _saved(req: Request, node: Node, pending_file: Path, old_key: str | None,
           link: NodeLink, addr: int | None, reporter: Reporter) -> RegistrationSaved:
    """The gateway did not answer: the node gets a kid chosen here, so that it
    protects its reports from the start (the gateway takes the kid with the
    registration, when it is delivered: nobody has to come back to the
    node), and the registration waits on the laptop."""
    assert req.gateway is not None and node.key is not None
    kid = pending.choose_kid()
    pending.save(pending_file, node, req.gateway, req.replace, old_key, req.override, kid)
    write_config(link, config_text(build_config(req, node.key, addr, kid)))
    reporter.say(f"kid        {kid} written to the node (chosen here: the gateway takes it with "
                 "the registration)")
    return RegistrationSaved(
        f"{req.node_id} is configured, but the gateway at {req.gateway} did not answer, so it "
        f"is not registered yet; the registration is saved in {pending_file}: run 'kvarter "
        "node register --pending' once the gateway is reachable (no need to come back to the "
        "node: it has its kid and reports once the gateway has the registration)",
        short="gateway unreachable")
