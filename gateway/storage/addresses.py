"""Light poles' short addresses: the lowest one no node has."""

from __future__ import annotations

import sqlite3

from gateway.records import ADDR_MAX, ADDR_MIN, RegistrationError


def free_addr(db: sqlite3.Connection) -> int:
    want = ADDR_MIN
    for (a,) in db.execute("SELECT addr FROM nodes WHERE addr IS NOT NULL ORDER BY addr"):
        if a > want:
            break
        want = a + 1
    if want > ADDR_MAX:
        raise RegistrationError(f"every short address {ADDR_MIN}..{ADDR_MAX} is taken")
    return want
