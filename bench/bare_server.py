"""Bare aiocoap: the same resource paths answering 2.04 with no decoding and no
storage. The ingest benchmark's yardstick."""

from __future__ import annotations

import asyncio
import os
import sys

import aiocoap
from aiocoap import resource


class Bare(resource.Resource, resource.PathCapable):  # type: ignore[misc]
    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(code=aiocoap.CHANGED)


async def main(port: int) -> None:
    os.environ["AIOCOAP_REUSE_PORT"] = "0"
    site = resource.Site()
    site.add_resource(["b"], Bare())
    await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
