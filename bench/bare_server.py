"""Bare aiocoap: the same resource paths answering 2.04 with no decoding and no
storage. The ingest benchmark's yardstick. With --oscore N it serves the
same protected requests as the gateway (aiocoap's OscoreSiteWrapper with the
load's N node contexts, bench/oscore_load.py), so that OSCORE's own cost is
on both sides of the ratio."""

from __future__ import annotations

import asyncio
import os
import sys

import aiocoap
from aiocoap import resource
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper

from bench.oscore_load import bare_credentials


class Bare(resource.Resource, resource.PathCapable):  # type: ignore[misc]
    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(code=aiocoap.CHANGED)


class BareExact(resource.Resource):  # type: ignore[misc]
    """/b itself: where a protected report goes (the key names the node)."""

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(code=aiocoap.CHANGED)


async def main(port: int, oscore_nodes: int) -> None:
    os.environ["AIOCOAP_REUSE_PORT"] = "0"
    site = resource.Site()
    site.add_resource(["b"], Bare())
    site.add_resource(["b"], BareExact())
    served = site if not oscore_nodes else OscoreSiteWrapper(site,
                                                             bare_credentials(oscore_nodes))
    # The transport the gateway serves (gateway/config.py), so both are measured alike.
    await aiocoap.Context.create_server_context(served, bind=("127.0.0.1", port),
                                                transports=["udp6"])
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    nodes = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--oscore" else 0
    asyncio.run(main(int(sys.argv[1]), nodes))
