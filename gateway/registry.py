"""The nodes the gateway knows: in memory, for every uplink's check, and in
the database for good. A registration comes from a technician's tool or the
simulator (PUT /nodes/<id>); only-if-new registrations never take over the id
(and history) of another node."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.records import Node, RegistrationError
from gateway.storage.store import Store

log = logging.getLogger("gateway")


class AlreadyRegistered(RegistrationError):
    """An only-if-new registration names an id the gateway already has."""


class NodeRegistry:
    def __init__(self, store: Store, on_change: Callable[[Node], None]) -> None:
        self.store = store
        self.on_change = on_change
        self.nodes: dict[str, Node] = {n.node_id: n for n in store.nodes()}
        # One registration at a time, so that "only if new" cannot pass its
        # check while another registration of the same id is on its way to
        # the database.
        self._lock = asyncio.Lock()

    async def register(self, node: Node, only_new: bool = False) -> bool:
        """Add or update a node; True when it is new. Raises RegistrationError
        (AlreadyRegistered with only_new and a known id) and changes nothing."""
        async with self._lock:
            if only_new and node.node_id in self.nodes:
                raise AlreadyRegistered(f"node {node.node_id} is already registered")
            created, stored = await asyncio.to_thread(self.store.register_node, node)
            self.nodes[stored.node_id] = stored
        self.on_change(stored)  # without its key, as every copy the gateway keeps in memory
        log.info("%s node %s (%s%s)", "registered" if created else "updated", stored.node_id,
                 stored.role, f", addr {stored.addr}" if stored.addr is not None else "")
        return created
