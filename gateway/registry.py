"""The nodes the gateway knows: in memory, for every uplink's check, and in
the database for good. A registration comes from a technician's tool or the
simulator (PUT /nodes/<id>), always under an authenticated technician's
credential; only-if-new registrations never take over the id (and history) of
another node, and a registration over a node the gateway has needs proof of
that node's key or an override, which is logged with who used it (a place
registered without a key, such as an imported bin, takes its first node's
key without either)."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from gateway.records import Node, RegistrationError, SelfTest, replace_proof
from gateway.storage.store import Store

log = logging.getLogger("gateway")


class UnknownNode(RegistrationError):
    """A self-test delivered for a node the gateway does not have."""


class AlreadyRegistered(RegistrationError):
    """An only-if-new registration names an id the gateway already has."""


class RegistryFull(RegistrationError):
    """The gateway already has its maximum of nodes (max_nodes)."""


class ReplaceRefused(RegistrationError):
    """A registration over a node the gateway has, without proof of that
    node's key and without an override."""


class KidTaken(RegistrationError):
    """A registration asks for a kid (chosen at provisioning) that another
    node's context has."""


@dataclass(frozen=True)
class Authority:
    """Who sends a registration, and what they show for replacing a node the
    gateway has: proof from its key (replace_proof), or an override."""
    technician: str
    proof: str | None = None
    override: bool = False


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

    async def _may_replace(self, node: Node, by: Authority) -> None:
        old_key = await asyncio.to_thread(self.store.node_key, node.node_id)
        if old_key is None and node.key is not None:
            # A place registered without a node (a bin from the city's file):
            # there is no node to impersonate, and fitting one is what
            # provisioning is for.
            log.info("technician %r fits a node with a key to %r, registered without one",
                     by.technician, node.node_id)
            return
        if old_key is not None and by.proof is not None and hmac.compare_digest(
                by.proof, replace_proof(old_key, node.node_id, node.key)):
            log.info("technician %r replaces node %r, with proof of its key",
                     by.technician, node.node_id)
            return
        if by.override:
            log.warning("technician %r replaces node %r by OVERRIDE, without its key",
                        by.technician, node.node_id)
            return
        if by.proof is not None:
            log.warning("technician %r: replacing node %r refused, wrong proof of its key",
                        by.technician, node.node_id)
            raise ReplaceRefused(
                f"node {node.node_id}: the proof does not match the key the gateway has; "
                "replace it with the operator's override (--override, logged)")
        raise ReplaceRefused(
            f"node {node.node_id} is registered: replacing it needs proof from its key "
            "(provision with the old node at hand) or the operator's override "
            "(--override, logged)")

    def page(self, offset: int, limit: int) -> list[bytes]:
        """The JSON of up to limit nodes from offset, in registration order
        (a new node comes last, so pages already read stay as they were)."""
        return list(itertools.islice(self.json.values(), offset, offset + limit))

    async def register(self, node: Node, only_new: bool = False,
                       by: Authority | None = None, kid: bytes | None = None) -> bool:
        """Add or update a node; True when it is new. Raises RegistrationError
        (AlreadyRegistered with only_new and a known id, ReplaceRefused for a
        known id without proof or override, KidTaken for a kid another node
        has) and changes nothing. by: who sends it (None only for the
        gateway's own callers). kid: the one its provisioning chose, which
        its context takes (records.chosen_kid)."""
        async with self._lock:
            if only_new and node.node_id in self.nodes:
                raise AlreadyRegistered(f"node {node.node_id} is already registered")
            if kid is not None:
                holder = await asyncio.to_thread(self.store.kid_holder, kid)
                if holder is not None and holder != node.node_id:
                    raise KidTaken(f"kid {kid.hex()} is another node's; provision "
                                   f"{node.node_id} again to give it another")
            if node.node_id in self.nodes and by is not None:
                await self._may_replace(node, by)
            if node.node_id not in self.nodes and len(self.nodes) >= self.max_nodes:
                raise RegistryFull(
                    f"the gateway already has its maximum of {self.max_nodes} nodes "
                    f"(max_nodes); {node.node_id} not registered")
            created, stored = await asyncio.to_thread(self.store.register_node, node)
            if kid is not None:
                await asyncio.to_thread(self.store.claim_kid, node.node_id, kid)
            self.nodes[stored.node_id] = stored
            self.json[stored.node_id] = stored.to_json()
        self.on_change(stored)  # without its key, as every copy the gateway keeps in memory
        log.info("%s node %r (%s%s)%s", "registered" if created else "updated", stored.node_id,
                 stored.role, f", addr {stored.addr}" if stored.addr is not None else "",
                 f" by technician {by.technician!r}" if by is not None else "")
        return created

    async def selftest(self, node_id: str, result: SelfTest, technician: str) -> bool:
        """Keep a registered node's self-test as a technician's laptop read
        it; False when a later one is kept already. Raises UnknownNode."""
        if node_id not in self.nodes:
            raise UnknownNode(f"unknown node {node_id!r}: register it first "
                              "('kvarter node provision')")
        kept = await asyncio.to_thread(self.store.set_selftest, node_id, result, technician)
        log.info("self-test of node %r by technician %r: %s%s%s", node_id, technician,
                 "passed" if result.ok else "FAILED " + ",".join(result.failed),
                 f", firmware {result.firmware}" if result.firmware else "",
                 "" if kept else " (a later one is kept)")
        return kept
