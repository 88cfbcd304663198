"""Registering nodes with a running gateway over CoAP, as the technician's tool
and the simulator do."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

import aiocoap
from aiocoap.numbers.codes import Code

from gateway.records import Node


class RegistryError(RuntimeError):
    """The gateway could not be reached, or refused the registration."""


class GatewayUnreachable(RegistryError):
    """Nothing answered at the gateway's address."""


class NodeExists(RegistryError):
    """A registration meant for a new node names an id the gateway already has."""


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
    return GatewayUnreachable(f"gateway at {host}:{port} did not answer ({type(e).__name__}); "
                              "check that it runs and the address")


async def _ask(ctx: aiocoap.Context, req: aiocoap.Message, host: str, port: int,
               timeout: float) -> aiocoap.Message:
    try:
        return await asyncio.wait_for(ctx.request(req).response, timeout)
    except (TimeoutError, OSError, aiocoap.error.Error) as e:
        raise _unreachable(host, port, e) from None


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


async def register_nodes(host: str, port: int, nodes: Iterable[Node],
                         timeout: float = 10.0, only_new: bool = False,
                         kids: dict[str, str] | None = None) -> dict[str, bool]:
    """Register every node; returns node id -> True if newly created. With
    only_new, an id the gateway already has is refused (NodeExists) and left
    as it was: the PUT carries If-None-Match. kids: filled with node id ->
    OSCORE kid (hex) for each node with a key, for its config.json."""
    ctx = await aiocoap.Context.create_client_context()
    try:
        async def one(node: Node) -> tuple[str, bool]:
            req = aiocoap.Message(code=Code.PUT, uri=_uri(host, port, f"nodes/{node.node_id}"),
                                  payload=node.to_json(with_key=True), content_format=50)
            req.opt.if_none_match = only_new
            resp = await _ask(ctx, req, host, port, timeout)
            if resp.code == Code.PRECONDITION_FAILED:
                raise NodeExists(f"the gateway at {host}:{port} already has a node "
                                 f"{node.node_id}")
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

        async def limited(node: Node) -> tuple[str, bool]:
            async with sem:
                return await one(node)

        results = await asyncio.gather(*(limited(n) for n in nodes))
        return dict(results)
    finally:
        await ctx.shutdown()


async def get_node(host: str, port: int, node_id: str, timeout: float = 10.0) -> Node | None:
    """The gateway's registration of one node (never its key), or None."""
    ctx = await aiocoap.Context.create_client_context()
    try:
        req = aiocoap.Message(code=Code.GET, uri=_uri(host, port, f"nodes/{node_id}"))
        resp = await _ask(ctx, req, host, port, timeout)
        if resp.code == Code.NOT_FOUND:
            return None
        if not resp.code.is_successful():
            raise RegistryError(f"gateway answered {resp.code} to GET /nodes/{node_id}")
        return Node.from_json(resp.payload)
    finally:
        await ctx.shutdown()


# Nodes asked for per GET /nodes: the gateway's largest page.
PAGE = 50


async def list_nodes(host: str, port: int, timeout: float = 10.0,
                     limit: int | None = None) -> list[Node]:
    """Every node the gateway has (or the first `limit`), page by page, in
    registration order; never their keys."""
    ctx = await aiocoap.Context.create_client_context()
    nodes: list[Node] = []
    try:
        while limit is None or len(nodes) < limit:
            want = PAGE if limit is None else min(PAGE, limit - len(nodes))
            req = aiocoap.Message(code=Code.GET, uri=_uri(
                host, port, f"nodes?offset={len(nodes)}&limit={want}"))
            try:
                resp = await asyncio.wait_for(ctx.request(req).response, timeout)
            except (TimeoutError, OSError, aiocoap.error.Error) as e:
                raise GatewayUnreachable(
                    f"gateway at {host}:{port} did not answer ({e})") from None
            if not resp.code.is_successful():
                raise RegistryError(f"gateway answered {resp.code} to GET /nodes")
            page = [Node.from_dict(d) for d in json.loads(resp.payload)]
            nodes.extend(page)
            if len(page) < want:
                break
        return nodes
    finally:
        await ctx.shutdown()
