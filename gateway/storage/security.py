"""The OSCORE contexts' table: each keyed node's kid, the gateway's next
sequence number for it, and its replay window when the gateway last stopped
cleanly (NULL while the gateway runs, so that a crash leaves it unknown).

A window's bitfield is kept as hex text: it may be wider than SQLite's
64-bit integers."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.storage.database import Database

KID_MAX = 0xFFFF  # two bytes at most: a kid travels in every protected request


@dataclass(frozen=True)
class ContextRow:
    node_id: str
    kid: bytes
    key: str  # the node's provisioned key, hex
    next_to_send: int
    window: tuple[int, int] | None


def kid_bytes(n: int) -> bytes:
    """The shortest big-endian bytes of n (1 -> b"\\x01", 256 -> b"\\x01\\x00")."""
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


class SecurityTable(Database):
    """Kids, sequence numbers and replay windows of the nodes' contexts."""

    def oscore_contexts(self, node_id: str | None = None) -> list[ContextRow]:
        """Every node with a key (or only node_id), each given a kid if it
        had none."""
        with self.transaction() as db:
            used = {int.from_bytes(k, "big") for (k,) in db.execute(
                "SELECT kid FROM oscore_contexts")}
            only, args = ("", ()) if node_id is None else (" AND node_id = ?", (node_id,))
            missing = db.execute(
                "SELECT node_id FROM nodes WHERE key IS NOT NULL AND node_id NOT IN "
                "(SELECT node_id FROM oscore_contexts)" + only + " ORDER BY node_id",
                args).fetchall()
            want = 1
            for (new_id,) in missing:
                while want in used:
                    want += 1
                if want > KID_MAX:
                    break  # no kid left: the node stays without a context
                db.execute("INSERT INTO oscore_contexts (node_id, kid, next_to_send, "
                           "window_index, window_bits) VALUES (?, ?, 0, 0, '0')",
                           (new_id, kid_bytes(want)))
                used.add(want)
            rows = db.execute(
                "SELECT c.node_id, c.kid, n.key, c.next_to_send, c.window_index, c.window_bits "
                "FROM oscore_contexts c JOIN nodes n ON n.node_id = c.node_id "
                "WHERE n.key IS NOT NULL" + only.replace("node_id", "c.node_id")
                + " ORDER BY c.node_id", args).fetchall()
        return [ContextRow(node_id, bytes(kid), key, int(nxt),
                           None if idx is None else (int(idx), int(bits, 16)))
                for node_id, kid, key, nxt, idx, bits in rows]

    def kid_holder(self, kid: bytes) -> str | None:
        """The node whose context has this kid, or None."""
        with self.transaction() as db:
            row = db.execute("SELECT node_id FROM oscore_contexts WHERE kid = ?",
                             (kid,)).fetchone()
        return None if row is None else str(row[0])

    def claim_kid(self, node_id: str, kid: bytes) -> None:
        """A registered node's context takes the kid its provisioning chose
        (the node has it in its config.json already). Another kid than it had
        makes another context (the kid enters its keys), which starts afresh."""
        with self.transaction() as db:
            db.execute("INSERT INTO oscore_contexts (node_id, kid, next_to_send, window_index, "
                       "window_bits) VALUES (?, ?, 0, 0, '0') ON CONFLICT (node_id) DO UPDATE "
                       "SET kid = excluded.kid, next_to_send = 0, window_index = 0, "
                       "window_bits = '0' WHERE oscore_contexts.kid != excluded.kid",
                       (node_id, kid))

    def reset_oscore_context(self, node_id: str) -> None:
        """A node given a new key: its context starts afresh, same kid."""
        with self.transaction() as db:
            db.execute("UPDATE oscore_contexts SET next_to_send = 0, window_index = 0, "
                       "window_bits = '0' WHERE node_id = ?", (node_id,))
            # A new key is a pole provisioned anew: it gets its zone key again.
            db.execute("DELETE FROM zone_key_holders WHERE node_id = ?", (node_id,))

    def save_oscore_states(self, states: list[tuple[str, int, tuple[int, int] | None]]) -> None:
        """(node id, next sequence number, window or None) for each context."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE oscore_contexts SET next_to_send = ?, window_index = ?, "
                "window_bits = ? WHERE node_id = ?",
                [(nxt, None if w is None else w[0], None if w is None else format(w[1], "x"),
                  node_id) for node_id, nxt, w in states])

    def forget_oscore_windows(self, node_id: str | None = None) -> None:
        """While the gateway runs the stored windows are unknown: a crash then
        makes every node prove freshness once (Echo) instead of replays
        slipping through a window that is behind. node_id: that node's only
        (a context made while the gateway runs)."""
        with self.transaction() as db:
            if node_id is None:
                db.execute("UPDATE oscore_contexts SET window_index = NULL, window_bits = NULL")
            else:
                db.execute("UPDATE oscore_contexts SET window_index = NULL, window_bits = NULL "
                           "WHERE node_id = ?", (node_id,))
