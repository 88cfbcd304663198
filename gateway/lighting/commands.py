"""Commands to light nodes. Brighten goes as a non-confirmable `POST /c` to
every target node, from a UDP socket of its own on the gateway's address, so
that sending never waits for the CoAP server: a datagram is handed to the
kernel and the presence event goes on to be stored. Zone profiles go as
confirmable `POST /z`, each answered by its node.

Two ways of building CoAP, on purpose: a Brighten frame is built with the
node's own codec (firmware/proto/coap.py) because the very same bytes also go on the
air over LoRa, where every byte is airtime (empty token but for the command
id, no options beyond the path), and because it is fire-and-forget with
No-Response, which needs none of aiocoap's exchange state. A profile push
wants retransmission and an answer per node, which is what aiocoap's client
does.

Over Wi-Fi each target node is sent the decision's group command (the same
bytes: its short address is among the targets); over LoRa one frame of it
reaches them all. A command for poles with keys goes protected with their
zone's key (gateway/security/zone.py), one frame per zone; poles without a key
(none provisioned) get it unprotected as before."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
from collections import Counter
from collections.abc import Callable, Container, Mapping

import aiocoap
import aiocoap.oscore
from aiocoap.numbers.codes import Code

from firmware.lighting import payload as light_codec
from firmware.proto import coap
from firmware.proto.paths import BRIGHTEN_PATH, PROFILE_PATH
from gateway.coap.addresses import Address, plain_address
from gateway.lighting.wave import Command
from gateway.logs import LRU
from gateway.security.zone import ZoneContext

log = logging.getLogger("gateway.lights")

# Addresses whose refusals were logged, remembered at most.
WARNED_KEPT = 4096

class _Receiver(asyncio.DatagramProtocol):
    """Answers to commands: only errors come back (No-Response), logged once
    per node address."""

    def __init__(self) -> None:
        self.warned: LRU[Address, None] = LRU(WARNED_KEPT)

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        src = plain_address(tuple(addr))
        try:
            msg = coap.decode(data)
        except coap.CoapError:
            return
        if coap.code_class(msg.code) >= 4 and src not in self.warned:
            self.warned.touch(src, None)
            log.warning("light node at %s:%d refused a command: %s %r", src[0], src[1],
                        coap.code_str(msg.code), msg.payload[:80].decode(errors="replace"))


class CommandSender:
    """Sends Brighten commands as NON POST /c with No-Response, one datagram
    per target node, from a UDP socket of its own."""

    def __init__(self, bind_host: str) -> None:
        self.bind_host = bind_host
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self.mid = random.getrandbits(16)
        self.sent = 0
        self.unknown: Counter[str] = Counter()  # commands for nodes never heard from

    async def binds(self) -> list[tuple[int, str]]:
        """(IP version, address) to send from: the gateway's own address
        only, in its own family. "::" (every address of both families) binds
        both; a host name, each family it resolves to."""
        try:
            ip = ipaddress.ip_address(self.bind_host)
        except ValueError:
            infos = await asyncio.get_running_loop().getaddrinfo(
                self.bind_host, 0, type=socket.SOCK_DGRAM)
            found: dict[int, str] = {}
            for family, _, _, _, sockaddr in infos:
                version = 6 if family == socket.AF_INET6 else 4
                found.setdefault(version, str(sockaddr[0]))
            return sorted(found.items())
        if ip.version == 6 and ip.is_unspecified:
            return [(4, "0.0.0.0"), (6, "::")]
        return [(ip.version, self.bind_host)]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for family, host in await self.binds():
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    _Receiver, local_addr=(host, 0))
            except OSError:
                continue  # no IPv6 here, say
            self._transports[family] = transport

    def next_mid(self) -> int:
        self.mid = (self.mid + 1) & 0xFFFF
        return self.mid

    def frame(self, brighten: light_codec.Brighten) -> bytes:
        self.next_mid()
        token = bytes((brighten.command_id >> 8 & 0xFF, brighten.command_id & 0xFF))
        msg = coap.Message(coap.NON, coap.POST, self.mid, token, [
            (coap.OPT_URI_PATH, BRIGHTEN_PATH.encode()),
            (coap.OPT_CONTENT_FORMAT, bytes((coap.CONTENT_OCTET_STREAM,))),
            (coap.OPT_NO_RESPONSE, bytes((coap.NO_RESPONSE_2XX,))),
        ], light_codec.encode_brighten(brighten))
        return bytes(coap.encode(msg))

    def send(self, frames: list[tuple[bytes, list[str]]], addresses: Mapping[str, Address],
             elsewhere: Container[str] = ()) -> int:
        """Hand every frame to the kernel for each of its nodes; returns the
        datagrams sent. Never waits. elsewhere: nodes the frames reach
        another way (over LoRa)."""
        n = 0
        for data, node_ids in frames:
            for node_id in node_ids:
                addr = addresses.get(node_id)
                if addr is None:
                    if node_id not in elsewhere:
                        self.unknown[node_id] += 1
                    continue
                transport = self._transports.get(6 if ":" in addr[0] else 4)
                if transport is None:
                    continue
                try:
                    transport.sendto(data, addr)
                    n += 1
                except OSError as e:  # pragma: no cover - unreachable network
                    log.warning("cannot send a command to %s at %s: %s", node_id, addr, e)
        self.sent += n
        return n

    def close(self) -> None:
        for t in self._transports.values():
            t.close()
        self._transports.clear()


def command_frames(cmd: Command, route: Callable[[str], str | None],
                   key: Callable[[str], ZoneContext | None], sender: CommandSender
                   ) -> tuple[list[tuple[bytes, list[str]]], int]:
    """A light-wave command as the frames that carry it, each with the poles
    it is for: one per zone, protected with the zone's key, and one
    unprotected for poles without keys. route(pole): the zone whose key its
    frame goes under, None for unprotected. A frame names only its own
    poles, so a zone's key never brightens another zone's. Also returns how
    many poles were left out because their zone has no key yet."""
    groups: dict[str | None, list[tuple[str, int]]] = {}
    for node_id, addr in zip(cmd.node_ids, cmd.brighten.targets, strict=True):
        groups.setdefault(route(node_id), []).append((node_id, addr))
    b = cmd.brighten
    out = []
    unkeyed = 0
    for zone, poles in groups.items():
        part = light_codec.Brighten(b.command_id, b.level_pct, b.hold_s, [a for _, a in poles])
        ids = [n for n, _ in poles]
        if zone is None:
            out.append((sender.frame(part), ids))
            continue
        ctx = key(zone)
        if ctx is None:
            unkeyed += len(poles)
            continue
        out.append((ctx.protect_brighten(light_codec.encode_brighten(part), sender.next_mid()),
                    ids))
    return out, unkeyed


async def push_profile(addresses: Mapping[str, Address], profile: light_codec.Profile,
                       timeout: float = 10.0,
                       contexts: Mapping[str, object] | None = None,
                       zone_key: bytes | None = None, pace_s: float = 0.0) -> dict[str, str]:
    """Send the profile by CON POST /z to every node; node id -> outcome:
    'acknowledged', 'refused: <code> <text>' or 'no answer'. contexts: node
    id -> the node's OSCORE security context (gateway/security/keyring.py):
    the push to that node goes protected with it, and only an answer that
    verifies counts (a node with a kid takes its profile protected only).
    zone_key: the zone key part (light_codec.encode_zone_key), appended to
    the protected pushes only: it never travels in the clear. pace_s: the
    pushes start this far apart (each node still has `timeout` from its own
    start), so that a large zone's pushes do not hold up the event loop in
    one burst."""
    payload = light_codec.encode_profile(profile)
    secured = dict(contexts or {})
    ctx = await aiocoap.Context.create_client_context()
    for node_id, security in (contexts or {}).items():
        addr = addresses.get(node_id)
        if addr is not None:
            ctx.client_credentials[f"{_uri_base(addr)}/*"] = security
    try:
        async def one(node_id: str, addr: Address, delay_s: float) -> tuple[str, str]:
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            body = payload + zone_key if zone_key and node_id in secured else payload
            req = aiocoap.Message(code=Code.POST, uri=f"{_uri_base(addr)}/{PROFILE_PATH}",
                                  payload=body, content_format=coap.CONTENT_OCTET_STREAM)
            try:
                resp = await asyncio.wait_for(ctx.request(req).response, timeout)
            except aiocoap.oscore.NotAProtectedMessage as e:
                answer = e.plain_message
                text = answer.payload.decode(errors="replace")
                return node_id, f"refused: {answer.code.dotted} {text} (unprotected)"
            except (TimeoutError, OSError, aiocoap.error.Error):
                return node_id, "no answer"
            if resp.code.is_successful():
                return node_id, "acknowledged"
            text = resp.payload.decode(errors="replace")
            return node_id, f"refused: {resp.code.dotted} {text}".rstrip()

        results = await asyncio.gather(*(one(n, a, i * pace_s)
                                         for i, (n, a) in enumerate(sorted(addresses.items()))))
        return dict(results)
    finally:
        await ctx.shutdown()


def _uri_base(addr: Address) -> str:
    host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
    return f"coap://{host}:{addr[1]}"
