"""The technicians' table: each technician's or operator's credential for
management requests (an OSCORE Sender ID, the kid, and a Master Secret),
what the gateway's side of that context keeps between runs, and when it was
made and revoked.

A kid is never given twice, not even after a revocation: a request protected
with a revoked credential can then never be taken for someone else's. A
revoked row keeps its name and times (who could do what, when) and loses its
secret."""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.storage.database import Database
from gateway.storage.security import kid_bytes

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
TECHNICIAN_KID_MAX = 0xFFFFFF  # three bytes at most; a kid travels in every request


class TechnicianError(ValueError):
    """A technician command that cannot be done; the message says why."""


@dataclass(frozen=True)
class TechnicianRow:
    name: str
    kid: bytes
    secret: str | None = field(repr=False)  # hex; None once revoked
    created_at: float
    revoked_at: float | None
    next_to_send: int = 0
    window: tuple[int, int] | None = None  # (index, bits); None: unknown


def check_name(name: str) -> str:
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise TechnicianError(
            f"technician name {name!r} must be 1..32 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit")
    return name


_COLUMNS = ("name, kid, secret, created_at, revoked_at, next_to_send, window_index, "
            "window_bits")


def _row(raw: Any) -> TechnicianRow:
    name, kid, secret, created, revoked, nxt, idx, bits = raw
    return TechnicianRow(str(name), bytes(kid), None if secret is None else str(secret),
                         float(created), None if revoked is None else float(revoked), int(nxt),
                         None if idx is None or bits is None else (int(idx), int(bits, 16)))


class TechnicianTable(Database):
    """Making, listing and revoking technicians' credentials, and the state
    of the gateway's side of their contexts."""

    def add_technician(self, name: str) -> TechnicianRow:
        """A new credential: the next unused kid and 16 random bytes from the
        operating system. Raises TechnicianError if an active technician has
        that name already."""
        check_name(name)
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM technicians WHERE name = ? AND revoked_at IS NULL",
                          (name,)).fetchone():
                raise TechnicianError(
                    f"technician {name!r} already has a credential: 'kvarter gateway technician "
                    f"rotate {name}' gives a new one (and revokes the old), or choose another "
                    "name")
            return self._add(db, name)

    def rotate_technician(self, name: str) -> TechnicianRow:
        """The active credential of name revoked and a new one made, at once."""
        check_name(name)
        with self.transaction() as db:
            if not self._revoke(db, name):
                raise TechnicianError(f"no active technician {name!r}: 'kvarter gateway "
                                      f"technician add {name}' makes a credential")
            return self._add(db, name)

    def _add(self, db: sqlite3.Connection, name: str) -> TechnicianRow:
        (top,) = db.execute("SELECT kid FROM technicians ORDER BY length(kid) DESC, kid DESC "
                            "LIMIT 1").fetchone() or (b"\x00",)
        number = int.from_bytes(bytes(top), "big") + 1
        if number > TECHNICIAN_KID_MAX:
            raise TechnicianError("every technician kid has been given: start a new database")
        # A new context's window is known, and empty: no Echo on first use.
        row = TechnicianRow(name, kid_bytes(number), secrets.token_hex(16), time.time(), None,
                            0, (0, 0))
        db.execute("INSERT INTO technicians (kid, name, secret, created_at, window_index, "
                   "window_bits) VALUES (?, ?, ?, ?, 0, '0')",
                   (row.kid, row.name, row.secret, row.created_at))
        return row

    def revoke_technician(self, name: str) -> bool:
        """True if name had an active credential (now revoked, its secret gone)."""
        with self.transaction() as db:
            return self._revoke(db, name)

    @staticmethod
    def _revoke(db: sqlite3.Connection, name: str) -> bool:
        cur = db.execute("UPDATE technicians SET revoked_at = ?, secret = NULL "
                         "WHERE name = ? AND revoked_at IS NULL", (time.time(), name))
        return cur.rowcount > 0

    def technicians(self) -> list[TechnicianRow]:
        """Every credential ever made, active and revoked, oldest first."""
        with self.reading() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM technicians "
                              "ORDER BY created_at, kid").fetchall()
        return [_row(r) for r in rows]

    def save_technician_states(self, states: list[tuple[bytes, int, tuple[int, int] | None]]
                               ) -> None:
        """(kid, next sequence number, window or None) for each context."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE technicians SET next_to_send = ?, window_index = ?, window_bits = ? "
                "WHERE kid = ?",
                [(nxt, None if w is None else w[0], None if w is None else format(w[1], "x"),
                  kid) for kid, nxt, w in states])


class TechnicianLookup:
    """A technician's row by kid, on a connection of its own: asked on the
    event loop for every request that names a technician's context, so it
    never waits for the gateway's writer (WAL readers do not block on it).
    This is what makes a revocation take effect at the very next request."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=1000")

    def by_kid(self, kid: bytes) -> TechnicianRow | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM technicians WHERE kid = ?",
                               (kid,)).fetchone()
        return None if row is None else _row(row)

    def close(self) -> None:
        self._db.close()
