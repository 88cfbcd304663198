"""Registering nodes with a running gateway over CoAP, as the technician's tool
and the simulator do: every request protected with a technician's OSCORE
context (gateway/security/technician.py), through aiocoap's client OSCORE."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager

import aiocoap
from aiocoap import oscore
from aiocoap.numbers.codes import Code

from gateway.records import Node, SelfTest, replace_proof
from gateway.security.technician import CredentialError, TechnicianCredential, laptop_context


class RegistryError(RuntimeError):
    """The gateway could not be reached, or refused the registration."""


class GatewayUnreachable(RegistryError):
    """Nothing answered at the gateway's address."""


class NodeExists(RegistryError):
    """A registration meant for a new node names an id the gateway already has."""


class CredentialRefused(RegistryError):
    """The gateway did not take the technician's credential (unknown, revoked,
    wrong key), or the laptop cannot use it."""


class ReplaceRefused(RegistryError):
    """A registration over a node the gateway has, without proof of its key
    and without an override."""


class KidTaken(RegistryError):
    """The kid a node's provisioning chose is another node's at the gateway."""


def parse_hostport(value: str) -> tuple[str, int]:
    """A gateway's CoAP address given as HOST:PORT ([v6]:PORT for IPv6);
    ValueError says what is wrong with it."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"--gateway {value!r} is not HOST:PORT, e.g. 127.0.0.1:5683")
    return host.strip("[]"), int(port)


def _uri(host: str, port: int, path: str) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"coap://{host}:{port}/{path}"


def _unreachable(host: str, port: int, e: BaseException) -> GatewayUnreachable:
    # aiocoap wraps what the network said (an ICMP "port unreachable": nothing
    # listens there) in a NetworkError: the cause is what helps the user.
    cause = e.__cause__ or e
    said = str(cause).strip() or type(cause).__name__
    return GatewayUnreachable(f"gateway at {host}:{port} did not answer ({said}); "
                              "check that it runs and the address")


async def _ask(ctx: aiocoap.Context, req: aiocoap.Message, host: str, port: int,
               timeout: float) -> aiocoap.Message:
    try:
        return await asyncio.wait_for(ctx.request(req).response, timeout)
    except oscore.NotAProtectedMessage as e:
        # The gateway answers in the clear only what it could not take as
        # a technician's protected request.
        plain = e.plain_message
        raise CredentialRefused(
            f"the gateway at {host}:{port} refused the technician credential: {plain.code} "
            f"{plain.payload.decode(errors='replace')[:200]}") from None
    except oscore.ProtectionInvalid:
        raise RegistryError(f"the answer from {host}:{port} did not verify with the technician "
                            "credential: is that the district's gateway?") from None
    except (TimeoutError, OSError, aiocoap.error.Error) as e:
        raise _unreachable(host, port, e) from None


@asynccontextmanager
async def technician_client(host: str, port: int,
                  technician: TechnicianCredential) -> AsyncIterator[aiocoap.Context]:
    """A client context whose requests to the gateway go protected with the
    technician's OSCORE context."""
    try:
        with laptop_context(technician) as secctx:
            ctx = await aiocoap.Context.create_client_context()
            try:
                ctx.client_credentials[_uri(host, port, "*")] = secctx
                yield ctx
            finally:
                await ctx.shutdown()
    except CredentialError as e:
        raise CredentialRefused(str(e)) from None


def kid_in(answer: bytes) -> str | None:
    """The OSCORE kid (hex) a registration's answer gives a node with a key,
    or None."""
    if not answer:
        return None
    try:
        kid = json.loads(answer).get("kid")
    except (ValueError, AttributeError):
        return None
    return kid if isinstance(kid, str) else None


async def register_nodes(host: str, port: int, nodes: Iterable[Node], timeout: float = 10.0,
                         only_new: bool = False, kids: dict[str, str] | None = None, *,
                         technician: TechnicianCredential,
                         old_keys: Mapping[str, str] | None = None,
                         override: bool = False,
                         chosen_kids: Mapping[str, str] | None = None,
                         refused: dict[str, str] | None = None) -> dict[str, bool]:
    """Register every node, protected with the technician's credential;
    returns node id -> True if newly created (refused: if given, a node the
    gateway will not let be replaced goes there, id -> the gateway's reason,
    instead of raising ReplaceRefused; the others are registered). With only_new, an id the
    gateway already has is refused (NodeExists) and left as it was: the PUT
    carries If-None-Match. A node the gateway has is replaced only with proof
    from its key (old_keys: node id -> the key it had) or with override
    (logged at the gateway with the technician's name); else ReplaceRefused.
    kids: filled with node id -> OSCORE kid (hex) for each node with a key,
    for its config.json. chosen_kids: node id -> the kid (hex) its
    provisioning chose while the gateway was out of reach, which the gateway
    gives it (KidTaken: another node has it)."""
    async with technician_client(host, port, technician) as ctx:
        async def one(node: Node) -> tuple[str, bool] | None:
            query = ""
            old_key = (old_keys or {}).get(node.node_id)
            if old_key is not None:
                query = "?proof=" + replace_proof(old_key, node.node_id, node.key)
            elif override:
                query = "?override=1"
            payload = node.to_json(with_key=True)
            chosen = (chosen_kids or {}).get(node.node_id)
            if chosen is not None:
                payload = json.dumps({**json.loads(payload), "kid": chosen}).encode()
            req = aiocoap.Message(code=Code.PUT,
                                  uri=_uri(host, port, f"nodes/{node.node_id}{query}"),
                                  payload=payload, content_format=50)
            req.opt.if_none_match = only_new
            resp = await _ask(ctx, req, host, port, timeout)
            if resp.code == Code.PRECONDITION_FAILED:
                raise NodeExists(f"the gateway at {host}:{port} already has a node "
                                 f"{node.node_id}")
            if resp.code == Code.CONFLICT:
                raise KidTaken(f"gateway refused {node.node_id}: "
                               f"{resp.payload.decode(errors='replace')}")
            if resp.code == Code.FORBIDDEN and resp.payload.startswith(b"node "):
                if refused is not None:
                    refused[node.node_id] = resp.payload.decode(errors="replace")
                    return None
                raise ReplaceRefused(f"gateway refused {node.node_id}: "
                                     f"{resp.payload.decode(errors='replace')}")
            if not resp.code.is_successful():
                raise RegistryError(f"gateway refused {node.node_id}: {resp.code} "
                                    f"{resp.payload.decode(errors='replace')}")
            kid = kid_in(resp.payload)
            if kids is not None and kid is not None:
                kids[node.node_id] = kid
            return node.node_id, resp.code == Code.CREATED

        # A few at a time: enough to register a district quickly without
        # flooding the gateway.
        sem = asyncio.Semaphore(16)

        async def limited(node: Node) -> tuple[str, bool] | None:
            async with sem:
                return await one(node)

        results = await asyncio.gather(*(limited(n) for n in nodes))
        return dict(r for r in results if r is not None)


async def get_node(host: str, port: int, node_id: str, timeout: float = 10.0, *,
                   technician: TechnicianCredential) -> Node | None:
    """The gateway's registration of one node (never its key), or None."""
    async with technician_client(host, port, technician) as ctx:
        req = aiocoap.Message(code=Code.GET, uri=_uri(host, port, f"nodes/{node_id}"))
        resp = await _ask(ctx, req, host, port, timeout)
        if resp.code == Code.NOT_FOUND:
            return None
        if not resp.code.is_successful():
            raise RegistryError(f"gateway answered {resp.code} to GET /nodes/{node_id}: "
                                f"{resp.payload.decode(errors='replace')[:200]}")
        return Node.from_json(resp.payload)


async def send_selftest(host: str, port: int, node_id: str, result: SelfTest,
                        timeout: float = 10.0, *, technician: TechnicianCredential) -> None:
    """Give the gateway a node's self-test result, as the laptop read it, for
    the technician's screen; RegistryError when it did not take it."""
    async with technician_client(host, port, technician) as ctx:
        req = aiocoap.Message(code=Code.PUT, uri=_uri(host, port, f"nodes/{node_id}/selftest"),
                              payload=result.to_json(), content_format=50)
        resp = await _ask(ctx, req, host, port, timeout)
        if not resp.code.is_successful():
            raise RegistryError(f"gateway refused the self-test of {node_id}: {resp.code} "
                                f"{resp.payload.decode(errors='replace')[:200]}")


# Nodes asked for per GET /nodes: the gateway's largest page.
PAGE = 50


async def list_nodes(host: str, port: int, timeout: float = 10.0,
                     limit: int | None = None, *,
                     technician: TechnicianCredential) -> list[Node]:
    """Every node the gateway has (or the first `limit`), page by page, in
    registration order; never their keys."""
    nodes: list[Node] = []
    async with technician_client(host, port, technician) as ctx:
        while limit is None or len(nodes) < limit:
            want = PAGE if limit is None else min(PAGE, limit - len(nodes))
            req = aiocoap.Message(code=Code.GET, uri=_uri(
                host, port, f"nodes?offset={len(nodes)}&limit={want}"))
            resp = await _ask(ctx, req, host, port, timeout)
            if not resp.code.is_successful():
                raise RegistryError(f"gateway answered {resp.code} to GET /nodes: "
                                    f"{resp.payload.decode(errors='replace')[:200]}")
            page = [Node.from_dict(d) for d in json.loads(resp.payload)]
            nodes.extend(page)
            if len(page) < want:
                break
    return nodes
