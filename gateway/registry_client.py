"""Registering nodes with a running gateway over CoAP, as the technician's tool
and the simulator do."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

import aiocoap
from aiocoap.numbers.codes import Code

from gateway.registry import Node


class RegistryError(RuntimeError):
    """The gateway could not be reached, or refused the registration."""


def _uri(host: str, port: int, path: str) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"coap://{host}:{port}/{path}"


async def register_nodes(host: str, port: int, nodes: Iterable[Node],
                         timeout: float = 10.0) -> dict[str, bool]:
    """Register every node; returns node id -> True if newly created."""
    ctx = await aiocoap.Context.create_client_context()
    try:
        async def one(node: Node) -> tuple[str, bool]:
            req = aiocoap.Message(code=Code.PUT, uri=_uri(host, port, f"nodes/{node.node_id}"),
                                  payload=node.to_json(), content_format=50)
            try:
                resp = await asyncio.wait_for(ctx.request(req).response, timeout)
            except (TimeoutError, OSError, aiocoap.error.Error) as e:
                raise RegistryError(
                    f"gateway at {host}:{port} did not answer ({type(e).__name__}); "
                    "check that it runs and the address") from None
            if not resp.code.is_successful():
                raise RegistryError(f"gateway refused {node.node_id}: {resp.code} "
                                    f"{resp.payload.decode(errors='replace')}")
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


async def list_nodes(host: str, port: int, timeout: float = 10.0) -> list[Node]:
    ctx = await aiocoap.Context.create_client_context()
    try:
        req = aiocoap.Message(code=Code.GET, uri=_uri(host, port, "nodes"))
        try:
            resp = await asyncio.wait_for(ctx.request(req).response, timeout)
        except (TimeoutError, OSError, aiocoap.error.Error) as e:
            raise RegistryError(f"gateway at {host}:{port} did not answer ({e})") from None
        if not resp.code.is_successful():
            raise RegistryError(f"gateway answered {resp.code} to GET /nodes")
        return [Node.from_dict(d) for d in json.loads(resp.payload)]
    finally:
        await ctx.shutdown()
