"""The nodes the gateway knows: in memory, for every uplink's check, and in
the database for good. A registration comes from a technician's tool or the
simulator (PUT /nodes/<id>); only-if-new registrations never take over the id
(and history) of another node."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

from gateway.records import Node, RegistrationError
from gateway.storage.store import Store

log = logging.getLogger("gateway")


class AlreadyRegistered(RegistrationError):
    """An only-if-new registration names an id the gateway already has."""


class RegistryFull(RegistrationError):
    """The gateway already has its maximum of nodes (max_nodes)."""


# The most nodes a gateway takes unless configured otherwise (max_nodes).
MAX_NODES = 10000


class NodeRegistry:
    def __init__(self, store: Store, on_change: Callable[[Node], None],
                 max_nodes: int = MAX_NODES) -> None:
        self.store = store
        self.on_change = on_change
        self.max_nodes = max_nodes
        self.nodes: dict[str, Node] = {n.node_id: n for n in store.nodes()}
        # Each node's JSON as GET /nodes answers it, made once per change:
        # a listing costs no serialising.
        self.json: dict[str, bytes] = {i: n.to_json() for i, n in self.nodes.items()}
        # One registration at a time, so that "only if new" cannot pass its
        # check while another registration of the same id is on its way to
        # the database.
        self._lock = asyncio.Lock()

    def page(self, offset: int, limit: int) -> list[bytes]:
        """The JSON of up to limit nodes from offset, in registration order
        (a new node comes last, so pages already read stay as they were)."""
        return list(itertools.islice(self.json.values(), offset, offset + limit))

    async def register(self, node: Node, only_new: bool = False) -> bool:
        """Add or update a node; True when it is new. Raises RegistrationError
        (AlreadyRegistered with only_new and a known id) and changes nothing."""
        async with self._lock:
            if only_new and node.node_id in self.nodes:
                raise AlreadyRegistered(f"node {node.node_id} is already registered")
            if node.node_id not in self.nodes and len(self.nodes) >= self.max_nodes:
                raise RegistryFull(
                    f"the gateway already has its maximum of {self.max_nodes} nodes "
                    f"(max_nodes); {node.node_id} not registered")
            created, stored = await asyncio.to_thread(self.store.register_node, node)
            self.nodes[stored.node_id] = stored
            self.json[stored.node_id] = stored.to_json()
        self.on_change(stored)  # without its key, as every copy the gateway keeps in memory
        log.info("%s node %r (%s%s)", "registered" if created else "updated", stored.node_id,
                 stored.role, f", addr {stored.addr}" if stored.addr is not None else "")
        return created
