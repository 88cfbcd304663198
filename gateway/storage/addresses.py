"""Light poles' short addresses: the lowest one no node has."""

from __future__ import annotations

import sqlite3

from gateway.records import ADDR_MAX, ADDR_MIN, RegistrationError


def free_addr(db: sqlite3.Connection, floor: int = ADDR_MIN) -> int:
    """The lowest address no node has, at or above floor (every address
    below floor must be taken). Walks the unique index on addr from floor to
    the first gap: with floor kept just below the first gap (NodeTable), that
    is a step or two, not a scan of every pole."""
    floor = max(floor, ADDR_MIN)
    if db.execute("SELECT 1 FROM nodes WHERE addr = ?", (floor,)).fetchone() is None:
        want = floor
    else:
        row = db.execute(
            "SELECT a.addr + 1 FROM nodes AS a WHERE a.addr >= ? AND NOT EXISTS "
            "(SELECT 1 FROM nodes AS b WHERE b.addr = a.addr + 1) "
            "ORDER BY a.addr LIMIT 1", (floor,)).fetchone()
        want = int(row[0]) if row is not None else ADDR_MAX + 1
    if want > ADDR_MAX:
        raise RegistrationError(f"every short address {ADDR_MIN}..{ADDR_MAX} is taken")
    return want
