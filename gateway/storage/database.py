"""The gateway's SQLite connection and its one way of writing: a
transaction that commits or rolls back as a whole.

One connection, used by one thread at a time (the gateway's writer, or a
command). WAL mode lets readers (the CLI, the demo summary) look at the data
while the gateway writes; synchronous=FULL makes a commit durable before the
gateway answers."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from gateway.storage.migrations import migrate


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The database holds the nodes' keys: it, its -wal and its -shm are
        # created readable and writable by their owner only (SQLite gives
        # the -wal and -shm the database's mode; the umask covers the rest).
        old_umask = os.umask(0o077)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None)
        except BaseException:
            os.umask(old_umask)
            raise
        self._lock = threading.Lock()
        try:
            # The CLI writes crews' records while the gateway runs: wait for
            # the other's transaction rather than fail.
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._lock:
                migrate(self._db)
        except BaseException:
            self._db.close()
            raise
        finally:
            os.umask(old_umask)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, inside BEGIN IMMEDIATE ... COMMIT; anything raised
        rolls the whole transaction back and goes on up."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for queries and single statements (each its own
        transaction)."""
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
