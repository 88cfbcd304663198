"""The gateway's OSCORE contexts for every node with a key, kept in step with
the registry and the database.

At start the contexts are made from what is stored, and the stored windows
are then marked unknown: they are written back only on a clean stop. The
gateway's own sequence numbers are written ahead in chunks, synchronously,
before a number from the next chunk is used; they are used only for requests
the gateway starts (profile pushes), never on a report's path.

Technicians' contexts are made when a technician's request first comes, from
the database as it is at that moment, and every request that names one is
checked against the database first: a credential added or revoked with
`kvarter gateway technician` while the gateway runs counts from the very next
request."""

from __future__ import annotations

import logging
import sqlite3

from gateway.records import Node
from gateway.security.contexts import (
    ContextState,
    NodeContext,
    NodeCredentials,
    RefusedTechnician,
    TechnicianContext,
)
from gateway.storage.security import ContextRow
from gateway.storage.store import Store
from gateway.storage.technicians import TechnicianLookup

log = logging.getLogger("gateway.security")


class Keyring:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.credentials = NodeCredentials()
        self.credentials.technician = self.technician
        self._keys: dict[str, str] = {}
        self._technicians: dict[bytes, TechnicianContext] = {}
        self._lookup: TechnicianLookup | None = None

    def load(self) -> int:
        """Make every keyed node's context; returns how many."""
        for row in self.store.oscore_contexts():
            self._add(row)
        self.store.forget_oscore_windows()
        self._lookup = TechnicianLookup(self.store.path)
        return len(self._keys)

    def technician(self, kid: bytes) -> TechnicianContext | RefusedTechnician:
        """The context of the active technician with this kid, or a refusal
        (unknown, revoked). Asked for every request that names a
        technician's context: management requests are few, and a look-up by
        key on a connection of its own is cheap."""
        ctx = self._technicians.get(kid)
        try:
            row = None if self._lookup is None else self._lookup.by_kid(kid)
        except sqlite3.Error as e:
            log.warning("technician kid %s refused: cannot read the database (%s)", kid.hex(), e)
            return RefusedTechnician()
        if row is None or row.secret is None:
            if ctx is not None:
                del self._technicians[kid]
                log.info("technician %r: credential revoked, refused from now on", ctx.technician)
            return RefusedTechnician()
        if ctx is None:
            ctx = TechnicianContext(row.name, row.kid, bytes.fromhex(row.secret),
                                    ContextState(row.next_to_send, row.window),
                                    self._persist_technician)
            self._technicians[kid] = ctx
            # Unknown while the gateway runs, as every node's window: after a
            # crash the technician's tool proves freshness once (Echo).
            self.store.save_technician_states([(row.kid, row.next_to_send, None)])
        return ctx

    def _persist_technician(self, ctx: TechnicianContext) -> None:
        self.store.save_technician_states(
            [(bytes(ctx.recipient_id), ctx.sequence_number_persisted, None)])

    def _add(self, row: ContextRow) -> None:
        ctx = NodeContext(row.node_id, row.kid, bytes.fromhex(row.key),
                          ContextState(row.next_to_send, row.window), self._persist)
        self.credentials.add(ctx)
        self._keys[row.node_id] = row.key

    def _persist(self, ctx: NodeContext) -> None:
        self.store.save_oscore_states([(ctx.node_id, ctx.sequence_number_persisted, None)])

    def registered(self, node: Node) -> None:
        """After a registration: a node with a new key, or a new kid (one its
        provisioning chose), gets a fresh context."""
        key = self.store.node_key(node.node_id)
        if key is None:
            return
        if self._keys.get(node.node_id) == key:
            rows = self.store.oscore_contexts(node.node_id)
            if not rows or rows[0].kid == self.kid_of(node.node_id):
                return
        elif node.node_id in self._keys:
            self.store.reset_oscore_context(node.node_id)
        for row in self.store.oscore_contexts(node.node_id):
            self._add(row)  # a new context: its window is known, and empty
            # Stored as unknown while the gateway runs, as every window:
            # after a crash the node proves freshness (Echo) rather than
            # its reports from before the crash being taken again.
            self.store.forget_oscore_windows(node.node_id)
            log.info("node %r: OSCORE context with kid %s", node.node_id, row.kid.hex())

    def kid_of(self, node_id: str) -> bytes | None:
        ctx = self.credentials.for_node(node_id)
        return None if ctx is None else bytes(ctx.recipient_id)

    def close(self) -> None:
        """On a clean stop: every context's state, windows included."""
        self.store.save_oscore_states(
            [(c.node_id, s.next_to_send, s.window)
             for c in self.credentials.contexts()
             for s in [c.state(window_known=True)]])
        self.store.save_technician_states(
            [(bytes(c.recipient_id), s.next_to_send, s.window)
             for c in self._technicians.values()
             for s in [c.state(window_known=True)]])
        if self._lookup is not None:
            self._lookup.close()
