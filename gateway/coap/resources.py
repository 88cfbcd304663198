"""The gateway's CoAP resources (aiocoap). This layer only translates between
CoAP messages and the ingest pipeline or the node registry: it decides
nothing about a payload.

    POST /b/<node id>      bin report (docs/protocol.md); protected with OSCORE,
                           /b alone: the node's context names it
    POST /p/<node id>      presence event (and the light wave it sets off)
    POST /s/<node id>      light status
    PUT  /nodes/<node id>  register a node (JSON); with If-None-Match only if the
                           id is new (else 4.12); over a node the gateway has
                           only with ?proof=<hex> (replace_proof, from its key)
                           or ?override=1 (logged), else 4.03; a node with a
                           key is answered its OSCORE kid, {"kid": "07"}, for
                           its config.json; one provisioned while the gateway
                           was out of reach brings the kid its laptop chose
                           ("kid": 8 hex digits) and gets that one (4.09 when
                           another node has it)
    PUT  /nodes/<node id>/selftest
                           a node's self-test result as the technician's laptop
                           read it (JSON, gateway/records.py SelfTest); 4.04
                           for a node the gateway does not have
    GET  /nodes            the registry, as JSON (never the nodes' keys), a page at
                           a time: ?offset=N&limit=M (default 5, at most 50)
    GET  /nodes/<node id>  one node (never its key)

Everything under /nodes needs a request protected with an active
technician's OSCORE context (4.01 otherwise: nothing changed, nothing listed)
and comes from the admin networks (4.03 otherwise).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

import aiocoap
from aiocoap import resource
from aiocoap.numbers.codes import Code
from aiocoap.transports.oscore import OSCOREAddress

from firmware.proto.coap import CONTENT_OCTET_STREAM
from firmware.proto.paths import BIN_PATH, PRESENCE_PATH, STATUS_PATH
from gateway.ingest.decode import Reason
from gateway.ingest.pipeline import Pipeline, Result
from gateway.records import Node, RegistrationError, SelfTest, chosen_kid
from gateway.registry import (
    AlreadyRegistered,
    Authority,
    KidTaken,
    NodeRegistry,
    ReplaceRefused,
    UnknownNode,
)

REJECTION_CODES = {
    Reason.MALFORMED: Code.BAD_REQUEST,
    Reason.WRONG_ROLE: Code.BAD_REQUEST,
    Reason.BAD_TIME: Code.BAD_REQUEST,
    Reason.UNKNOWN_NODE: Code.NOT_FOUND,
}


def diagnostic(code: Code, text: str) -> aiocoap.Message:
    # RFC 7252 5.5.2: a diagnostic payload is UTF-8 text for humans.
    return aiocoap.Message(code=code, payload=text.encode()[:200])


class ReportResource(resource.Resource, resource.PathCapable):  # type: ignore[misc]
    def __init__(self, pipeline: Pipeline, kind: str, oscore_required: bool = False,
                 keyed: Callable[[str], bool] | None = None) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.kind = kind
        self.oscore_required = oscore_required
        self.keyed = keyed  # node id -> True when the node has an OSCORE context
        self.counts: Counter[str] = Counter()

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        # A report is one datagram (one LoRa frame): aiocoap's block-wise
        # bookkeeping would copy every request for nothing.
        return False

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        path = request.opt.uri_path
        remote = request.remote
        owner = None
        if isinstance(remote, OSCOREAddress):
            # Unprotected by aiocoap with a node's context: it speaks for
            # that node only, and a node's protected request may leave its
            # id out (/b alone), which saves 6 bytes on air.
            owner = getattr(remote.security_context, "node_id", None)
            if not path and owner is not None:
                path = (owner,)
        if len(path) != 1 or not path[0]:
            self.counts["malformed"] += 1
            return diagnostic(Code.NOT_FOUND, f"post to /{self.kind}/<node id>")
        cf = request.opt.content_format
        if cf is not None and int(cf) != CONTENT_OCTET_STREAM:
            self.counts["malformed"] += 1
            return diagnostic(Code.UNSUPPORTED_CONTENT_FORMAT,
                              f"payload must be application/octet-stream ({CONTENT_OCTET_STREAM})")
        if isinstance(remote, OSCOREAddress):
            if owner != path[0]:
                self.counts["wrong context"] += 1
                return diagnostic(Code.UNAUTHORIZED,
                                  f"protected with the context of {owner!r}, not {path[0]!r}")
            remote = remote.underlying_address
        elif self.oscore_required or (self.keyed is not None and self.keyed(path[0])):
            # A node with a key always protects what it sends: unprotected,
            # a report in its name is someone else's, whatever the setting.
            self.counts["unprotected"] += 1
            return diagnostic(Code.UNAUTHORIZED, "reports must be protected with OSCORE; "
                              "provision the node with its key ('kvarter node provision')")
        outcome = await self.pipeline.accept(self.kind, path[0], request.payload,
                                             getattr(remote, "sockaddr", None))
        if outcome.rejection is not None:
            self.counts[outcome.rejection.reason.value] += 1
            return diagnostic(REJECTION_CODES[outcome.rejection.reason],
                              outcome.rejection.message)
        self.counts[outcome.result.value] += 1
        if outcome.result is Result.STORAGE_ERROR:
            return diagnostic(Code.INTERNAL_SERVER_ERROR, "not stored; send again later")
        return aiocoap.Message(code=Code.CHANGED)


class ProtectedReportResource(resource.Resource):  # type: ignore[misc]
    """A report posted to /b, /p or /s with no node id: the same resource
    (which takes the id from the OSCORE context, and refuses such a request
    unprotected)."""

    def __init__(self, reports: ReportResource) -> None:
        super().__init__()
        self.reports = reports

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return False

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return await self.reports.render_post(request)


NEEDS_TECHNICIAN = ("registrations and the registry need a request protected with a "
                    "technician's credential (OSCORE): put the [technician] lines the "
                    "gateway's admin gives you ('kvarter gateway technician add NAME') in "
                    "the site profile")


def technician_of(request: aiocoap.Message) -> str | None:
    """The technician whose context protected the request, or None (not
    protected, or protected with a node's context)."""
    remote = request.remote
    if isinstance(remote, OSCOREAddress):
        name = getattr(remote.security_context, "technician", None)
        return name if isinstance(name, str) else None
    return None


def source_address(request: aiocoap.Message) -> str:
    remote = request.remote
    if isinstance(remote, OSCOREAddress):
        remote = remote.underlying_address
    return str(remote.sockaddr[0]) if hasattr(remote, "sockaddr") else ""


def management_refusal(request: aiocoap.Message, admin_allowed: Callable[[str], bool]
                       ) -> aiocoap.Message | None:
    """None if the request may manage the registry: protected with a
    technician's context, from the admin networks; else the refusal."""
    if technician_of(request) is None:
        return diagnostic(Code.UNAUTHORIZED, NEEDS_TECHNICIAN)
    source = source_address(request)
    if not source or not admin_allowed(source):
        return diagnostic(Code.FORBIDDEN, "registrations and the registry are served to the "
                                          "admin networks only (admin_networks)")
    return None


def replace_query(queries: tuple[str, ...]) -> tuple[str | None, bool]:
    """(proof, override) from a registration's Uri-Query; ValueError says
    what is wrong."""
    proof, override = None, False
    for q in queries:
        name, sep, value = q.partition("=")
        if name == "proof" and sep and len(value) == 64 \
                and all(c in "0123456789abcdef" for c in value):
            proof = value
        elif name == "override" and value == "1":
            override = True
        else:
            raise ValueError(f"query {q[:40]!r}: use proof=<64 hex digits> or override=1")
    return proof, override


class RegistryResource(resource.Resource, resource.PathCapable):  # type: ignore[misc]
    def __init__(self, registry: NodeRegistry, admin_allowed: Callable[[str], bool],
                 kid_of: Callable[[str], bytes | None] | None = None) -> None:
        super().__init__()
        self.registry = registry
        self.admin_allowed = admin_allowed
        self.kid_of = kid_of  # a node's OSCORE kid, once registered with a key

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        refusal = management_refusal(request, self.admin_allowed)
        if refusal is not None:
            return refusal
        path = request.opt.uri_path
        node = self.registry.nodes.get(path[0]) if len(path) == 1 else None
        if node is None:
            return diagnostic(Code.NOT_FOUND, "no such node")
        return aiocoap.Message(payload=node.to_json(), content_format=50)

    async def render_put(self, request: aiocoap.Message) -> aiocoap.Message:
        refusal = management_refusal(request, self.admin_allowed)
        if refusal is not None:
            return refusal
        technician = technician_of(request)
        assert technician is not None
        path = request.opt.uri_path
        if len(path) == 2 and path[1] == "selftest":
            return await self._selftest(path[0], request.payload, technician)
        if len(request.opt.uri_path) != 1:
            return diagnostic(Code.NOT_FOUND, "put to /nodes/<node id>")
        try:
            proof, override = replace_query(tuple(request.opt.uri_query))
        except ValueError as e:
            return diagnostic(Code.BAD_REQUEST, str(e))
        try:
            node = Node.from_json(request.payload)
            kid = chosen_kid(request.payload)
        except RegistrationError as e:
            return diagnostic(Code.BAD_REQUEST, str(e))
        if node.node_id != request.opt.uri_path[0]:
            return diagnostic(Code.BAD_REQUEST, "node_id in the body differs from the path")
        # RFC 7252 5.10.8.2: If-None-Match makes the PUT conditional on the
        # target not existing.
        try:
            created = await self.registry.register(
                node, only_new=bool(request.opt.if_none_match),
                by=Authority(technician, proof, override), kid=kid)
        except AlreadyRegistered as e:
            return diagnostic(Code.PRECONDITION_FAILED, str(e))
        except KidTaken as e:
            return diagnostic(Code.CONFLICT, str(e))
        except ReplaceRefused as e:
            return diagnostic(Code.FORBIDDEN, str(e))
        except RegistrationError as e:
            return diagnostic(Code.BAD_REQUEST, str(e))
        code = Code.CREATED if created else Code.CHANGED
        given = self.kid_of(node.node_id) if self.kid_of is not None and node.key else None
        if given is None:
            return aiocoap.Message(code=code)
        return aiocoap.Message(code=code, payload=json.dumps({"kid": given.hex()}).encode(),
                               content_format=50)


    async def _selftest(self, node_id: str, payload: bytes,
                        technician: str) -> aiocoap.Message:
        try:
            result = SelfTest.from_json(payload, time.time())
            await self.registry.selftest(node_id, result, technician)
        except UnknownNode as e:
            return diagnostic(Code.NOT_FOUND, str(e))
        except RegistrationError as e:
            return diagnostic(Code.BAD_REQUEST, str(e))
        return aiocoap.Message(code=Code.CHANGED)


# GET /nodes pages: small answers (an answer many times the request's size
# is what a reflection attack wants), each node's JSON made once.
PAGE_DEFAULT = 5
PAGE_MAX = 50


def page_query(queries: tuple[str, ...]) -> tuple[int, int]:
    """(offset, limit) from Uri-Query options offset=N and limit=M;
    ValueError says what is wrong."""
    values = {"offset": 0, "limit": PAGE_DEFAULT}
    for q in queries:
        name, sep, value = q.partition("=")
        if name not in values or not sep or not value.isdigit() or len(value) > 9:
            raise ValueError(f"query {q[:40]!r}: use offset=N and limit=M "
                             f"(M at most {PAGE_MAX})")
        values[name] = int(value)
    if not 1 <= values["limit"] <= PAGE_MAX:
        raise ValueError(f"limit must be 1..{PAGE_MAX}")
    return values["offset"], values["limit"]


class NodeListResource(resource.Resource):  # type: ignore[misc]
    """GET /nodes: the registry, a page at a time, in registration order."""

    def __init__(self, registry: NodeRegistry, admin_allowed: Callable[[str], bool]) -> None:
        super().__init__()
        self.registry = registry
        self.admin_allowed = admin_allowed

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        refusal = management_refusal(request, self.admin_allowed)
        if refusal is not None:
            return refusal
        try:
            offset, limit = page_query(tuple(request.opt.uri_query))
        except ValueError as e:
            return diagnostic(Code.BAD_REQUEST, str(e))
        body = b"[" + b", ".join(self.registry.page(offset, limit)) + b"]"
        return aiocoap.Message(payload=body, content_format=50)


def build_site(pipeline: Pipeline, registry: NodeRegistry,
               admin_allowed: Callable[[str], bool], oscore_required: bool = False,
               kid_of: Callable[[str], bytes | None] | None = None
               ) -> tuple[resource.Site, list[ReportResource]]:
    """The site, and its report resources (whose counts the gateway logs)."""
    site = resource.Site()
    site.add_resource([".well-known", "core"],
                      resource.WKCResource(site.get_resources_as_linkheader))
    keyed = None if kid_of is None else (lambda node_id: kid_of(node_id) is not None)
    reports = [ReportResource(pipeline, path, oscore_required, keyed)
               for path in (BIN_PATH, PRESENCE_PATH, STATUS_PATH)]
    for res in reports:
        site.add_resource([res.kind], res)
        # /b exactly: a protected report, named by its key (aiocoap's site
        # gives a path-capable resource only longer paths).
        site.add_resource([res.kind], ProtectedReportResource(res))
    site.add_resource(["nodes"], RegistryResource(registry, admin_allowed, kid_of))
    site.add_resource(["nodes"], NodeListResource(registry, admin_allowed))
    return site, reports
