"""The gateway's CoAP resources (aiocoap). This layer only translates between
CoAP messages and the ingest decisions, the writer and the registry.

    POST /b/<node id>      bin report (docs/protocol.md)
    POST /p/<node id>      presence event (and the light wave it sets off)
    POST /s/<node id>      light status
    PUT  /nodes/<node id>  register a node (JSON), from the admin networks only;
                           with If-None-Match only if the id is new (else 4.12)
    GET  /nodes            the registry, as JSON (never the nodes' keys)
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING

import aiocoap
from aiocoap import resource
from aiocoap.numbers.codes import Code

from firmware.proto.coap import CONTENT_OCTET_STREAM
from firmware.proto.paths import BIN_PATH, PRESENCE_PATH
from gateway.ingest import Reason, Rejected
from gateway.light_commands import STATUS_PATH
from gateway.registry import Node, RegistrationError
from gateway.store import PresenceRecord, Record, StatusRecord

if TYPE_CHECKING:
    from gateway.service import Gateway

log = logging.getLogger("gateway.coap")

REJECTION_CODES = {
    Reason.MALFORMED: Code.BAD_REQUEST,
    Reason.WRONG_ROLE: Code.BAD_REQUEST,
    Reason.UNKNOWN_NODE: Code.NOT_FOUND,
}


def diagnostic(code: Code, text: str) -> aiocoap.Message:
    # RFC 7252 5.5.2: a diagnostic payload is UTF-8 text for humans.
    return aiocoap.Message(code=code, payload=text.encode()[:200])


class ReportResource(resource.Resource, resource.PathCapable):  # type: ignore[misc]
    def __init__(self, gateway: Gateway, kind: str) -> None:
        super().__init__()
        self.gateway = gateway
        self.kind = kind
        self.counts: Counter[str] = Counter()

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        self.gateway.activity.enter()
        try:
            return await self._post(request)
        finally:
            self.gateway.activity.leave()

    async def _post(self, request: aiocoap.Message) -> aiocoap.Message:
        path = request.opt.uri_path
        if len(path) != 1 or not path[0]:
            self.counts["malformed"] += 1
            return diagnostic(Code.NOT_FOUND, f"post to /{self.kind}/<node id>")
        node_id = path[0]
        cf = request.opt.content_format
        if cf is not None and int(cf) != CONTENT_OCTET_STREAM:
            self.counts["malformed"] += 1
            return diagnostic(Code.UNSUPPORTED_CONTENT_FORMAT,
                              f"payload must be application/octet-stream ({CONTENT_OCTET_STREAM})")
        ingest = self.gateway.ingest
        now = time.time()
        record: Record
        try:
            if self.kind == BIN_PATH:
                record = ingest.bin_report(node_id, request.payload, now)
            elif self.kind == PRESENCE_PATH:
                record = ingest.presence(node_id, request.payload, now)
            else:
                record = ingest.status(node_id, request.payload, now)
        except Rejected as r:
            self.counts[r.reason.value] += 1
            self.gateway.note_rejection(node_id, r)
            return diagnostic(REJECTION_CODES[r.reason], r.message)
        sockaddr = getattr(request.remote, "sockaddr", None)
        if isinstance(record, PresenceRecord):
            # The light must not wait for the disk: the wave goes out first.
            self.gateway.light_presence(record, sockaddr, now)
        try:
            fresh = await self.gateway.writer.write(record)
        except Exception as e:
            log.error("could not store %s from %s: %s", self.kind, node_id, e)
            self.counts["storage error"] += 1
            return diagnostic(Code.INTERNAL_SERVER_ERROR, "not stored; send again later")
        if fresh:
            self.counts["stored"] += 1
            self.gateway.publisher.publish(record)
            if isinstance(record, StatusRecord):
                self.gateway.lighting.status(record, sockaddr)
        else:
            self.counts["duplicate"] += 1
        return aiocoap.Message(code=Code.CHANGED)


class RegistryResource(resource.Resource, resource.PathCapable):  # type: ignore[misc]
    def __init__(self, gateway: Gateway) -> None:
        super().__init__()
        self.gateway = gateway
        # One registration at a time, so that "only if new" (If-None-Match)
        # cannot pass its check while another registration of the same id is
        # on its way to the database.
        self._lock = asyncio.Lock()

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        node = self.gateway.ingest.nodes.get(request.opt.uri_path[0])
        if node is None:
            return diagnostic(Code.NOT_FOUND, "no such node")
        return aiocoap.Message(payload=node.to_json(), content_format=50)

    async def render_put(self, request: aiocoap.Message) -> aiocoap.Message:
        remote = request.remote.sockaddr[0] if hasattr(request.remote, "sockaddr") else ""
        if not remote or not self.gateway.config.admin_allowed(remote):
            return diagnostic(Code.FORBIDDEN,
                              "registrations are accepted from the admin networks only")
        if len(request.opt.uri_path) != 1:
            return diagnostic(Code.NOT_FOUND, "put to /nodes/<node id>")
        try:
            node = Node.from_json(request.payload)
        except RegistrationError as e:
            return diagnostic(Code.BAD_REQUEST, str(e))
        if node.node_id != request.opt.uri_path[0]:
            return diagnostic(Code.BAD_REQUEST, "node_id in the body differs from the path")
        async with self._lock:
            # RFC 7252 5.10.8.2: If-None-Match makes the PUT conditional on
            # the target not existing. A technician's new node must not take
            # over the id (and history) of another one by mistake.
            if request.opt.if_none_match and node.node_id in self.gateway.ingest.nodes:
                return diagnostic(Code.PRECONDITION_FAILED,
                                  f"node {node.node_id} is already registered")
            try:
                created = await self.gateway.register(node)
            except RegistrationError as e:
                return diagnostic(Code.BAD_REQUEST, str(e))
        return aiocoap.Message(code=Code.CREATED if created else Code.CHANGED)


class NodeListResource(resource.Resource):  # type: ignore[misc]
    """GET /nodes: the whole registry."""

    def __init__(self, gateway: Gateway) -> None:
        super().__init__()
        self.gateway = gateway

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        body = [json.loads(n.to_json()) for n in self.gateway.ingest.nodes.values()]
        return aiocoap.Message(payload=json.dumps(body).encode(), content_format=50)


def build_site(gateway: Gateway) -> tuple[resource.Site, list[ReportResource]]:
    """The site, and its report resources (whose counts the gateway logs)."""
    site = resource.Site()
    site.add_resource([".well-known", "core"],
                      resource.WKCResource(site.get_resources_as_linkheader))
    reports = [ReportResource(gateway, path) for path in (BIN_PATH, PRESENCE_PATH, STATUS_PATH)]
    for res in reports:
        site.add_resource([res.kind], res)
    site.add_resource(["nodes"], RegistryResource(gateway))
    site.add_resource(["nodes"], NodeListResource(gateway))
    return site, reports
