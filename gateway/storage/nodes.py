"""The registry's table: nodes, their short addresses and keys."""

from __future__ import annotations

import time
from dataclasses import replace

from gateway.records import ADDR_MIN, KindSpec, Node, RegistrationError
from gateway.storage.addresses import free_addr
from gateway.storage.database import Database


class NodeTable(Database):
    """Registering nodes and reading them back (never with their keys)."""

    # Every short address below this is taken (as far as this connection
    # has seen): where the search for a free one starts.
    _addr_floor = ADDR_MIN

    def register(self, node: Node) -> bool:
        """Add or update a node. Returns True when it is new."""
        return self.register_node(node)[0]

    def register_node(self, node: Node) -> tuple[bool, Node]:
        """Add or update a node; (True when it is new, the node as stored,
        without its key). A light pole keeps its short address unless given
        another, and gets the lowest free one when it has none; a node keeps
        its key unless given another (a replacement node brings its own).
        Raises RegistrationError for an address another node has."""
        with self.transaction() as db:
            existed = db.execute(
                "SELECT addr FROM nodes WHERE node_id = ?", (node.node_id,)).fetchone()
            addr: int | None = None
            if node.role == "light":
                addr = node.addr
                if addr is not None:
                    holder = db.execute(
                        "SELECT node_id FROM nodes WHERE addr = ? AND node_id != ?",
                        (addr, node.node_id)).fetchone()
                    if holder is not None:
                        raise RegistrationError(
                            f"addr {addr} is already {holder[0]}'s; leave addr out to "
                            "be given a free one")
                elif existed is not None and existed[0] is not None:
                    addr = int(existed[0])
                else:
                    addr = free_addr(db, self._addr_floor)
                    self._addr_floor = addr + 1
            db.execute(
                "INSERT INTO nodes (node_id, role, lat, lon, kind, registered_at, addr, key, "
                "address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET "
                "role = excluded.role, lat = excluded.lat, lon = excluded.lon, "
                "kind = excluded.kind, addr = excluded.addr, "
                "key = COALESCE(excluded.key, nodes.key), address = excluded.address",
                (node.node_id, node.role, node.lat, node.lon, node.kind, time.time(), addr,
                 node.key, node.address))
            if node.kind_spec is not None and node.kind:
                spec = node.kind_spec
                db.execute(
                    "INSERT INTO kind_specs (kind, volume_l, compacting, service_s, stored_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind) DO UPDATE SET "
                    "volume_l = excluded.volume_l, compacting = excluded.compacting, "
                    "service_s = excluded.service_s, stored_at = excluded.stored_at",
                    (node.kind, spec.volume_l, int(spec.compacting), spec.service_s,
                     time.time()))
        if existed is not None and existed[0] is not None and existed[0] != addr:
            # The node's old address is free again: the next search starts there.
            self._addr_floor = min(self._addr_floor, int(existed[0]))
        return existed is None, replace(node, addr=addr, key=None, kind_spec=None)

    def kind_specs(self) -> dict[str, KindSpec]:
        """What each bin kind holds and takes to empty, as last imported."""
        with self.reading() as db:
            rows = db.execute("SELECT kind, volume_l, compacting, service_s FROM kind_specs "
                              "ORDER BY kind").fetchall()
        return {r[0]: KindSpec(int(r[1]), bool(r[2]), int(r[3])) for r in rows}

    def node_key(self, node_id: str) -> str | None:
        """The node's secret key, learnt when it was provisioned (None: never
        provisioned with one). Kept apart from nodes(): a key never travels
        with the registry."""
        with self.reading() as db:
            row = db.execute("SELECT key FROM nodes WHERE node_id = ?",
                                   (node_id,)).fetchone()
        return None if row is None else row[0]

    def nodes(self) -> list[Node]:
        with self.reading() as db:
            rows = db.execute(
                "SELECT node_id, role, lat, lon, kind, addr, address FROM nodes "
                "ORDER BY node_id").fetchall()
        return [Node(r[0], r[1], r[2], r[3], r[4], r[5], address=r[6]) for r in rows]
