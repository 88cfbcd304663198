"""People's accounts: users, their browser sessions and their programs'
tokens. Passwords are kept as argon2 hashes and the secrets of sessions and
tokens as SHA-256 hashes, made by the caller (gateway/accounts.py): this
module stores what it is given and never sees a password."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from gateway.storage.database import Database


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    role: str
    crew: str | None
    disabled: bool
    created_at: float
    password_changed_at: float


@dataclass(frozen=True)
class SessionRow:
    user: UserRow
    csrf_token: str
    expires_at: float


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    created_at: float
    last_used: float | None


class UserExists(ValueError):
    """A user name that is taken (names compare without case)."""


_USER_COLUMNS = ("u.id, u.username, u.role, u.crew, u.disabled, u.created_at, "
                 "u.password_changed_at")


def _user(row: tuple[Any, ...]) -> UserRow:
    uid, name, role, crew, disabled, created, changed = row
    return UserRow(int(uid), str(name), str(role), None if crew is None else str(crew),
                   bool(disabled), float(created), float(changed))


class UserTable(Database):
    """Accounts, sessions and tokens."""

    # --- users ---------------------------------------------------------------
    def add_user(self, username: str, role: str, crew: str | None, password_hash: str) -> UserRow:
        now = time.time()
        try:
            with self.transaction() as db:
                cur = db.execute(
                    "INSERT INTO users (username, role, crew, password_hash, disabled, "
                    "created_at, password_changed_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
                    (username, role, crew, password_hash, now, now))
        except sqlite3.IntegrityError:
            raise UserExists(f"user {username!r} exists already") from None
        return UserRow(int(cur.lastrowid or 0), username, role, crew, False, now, now)

    def user(self, username: str) -> UserRow | None:
        with self.reading() as db:
            row = db.execute(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.username = ?",
                             (username,)).fetchone()
        return None if row is None else _user(row)

    def password_hash(self, username: str) -> tuple[UserRow, str] | None:
        """The user and their password's hash, for a login."""
        with self.reading() as db:
            row = db.execute(f"SELECT {_USER_COLUMNS}, u.password_hash FROM users u "
                             "WHERE u.username = ?", (username,)).fetchone()
        return None if row is None else (_user(row[:-1]), str(row[-1]))

    def users(self, offset: int = 0, limit: int = -1) -> tuple[list[UserRow], int]:
        """A page of users in name order, and how many there are."""
        with self.reading() as db:
            rows = db.execute(f"SELECT {_USER_COLUMNS} FROM users u ORDER BY u.username "
                              "LIMIT ? OFFSET ?", (limit, offset)).fetchall()
            total = db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
        return [_user(r) for r in rows], int(total)

    def set_disabled(self, username: str, disabled: bool) -> UserRow | None:
        """Disable (or enable again) an account; disabling ends its sessions
        and tokens at once. None: no such user."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), row[0]))
            if disabled:
                db.execute("DELETE FROM sessions WHERE user_id = ?", (row[0],))
                db.execute("DELETE FROM api_tokens WHERE user_id = ?", (row[0],))
        return self.user(username)

    def set_password_hash(self, username: str, password_hash: str,
                          keep_session: str | None = None) -> bool:
        """A new password; every session of the user ends but keep_session
        (the secret hash of the session that changed it). False: no such user."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                return False
            db.execute("UPDATE users SET password_hash = ?, password_changed_at = ? "
                       "WHERE id = ?", (password_hash, time.time(), row[0]))
            db.execute("DELETE FROM sessions WHERE user_id = ? AND secret_hash IS NOT ?",
                       (row[0], keep_session))
        return True

    def count_admins(self) -> int:
        with self.reading() as db:
            return int(db.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' "
                                  "AND disabled = 0").fetchone()[0])

    # --- sessions ------------------------------------------------------------
    def add_session(self, user_id: int, secret_hash: str, csrf_token: str,
                    lifetime_s: float) -> float:
        """A new browser session; returns when it expires. Expired sessions
        of anyone go at the same time, so the table does not grow."""
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO sessions (secret_hash, user_id, csrf_token, created_at, "
                       "last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (secret_hash, user_id, csrf_token, now, now, now + lifetime_s))
        return now + lifetime_s

    def session(self, secret_hash: str, idle_s: float) -> SessionRow | None:
        """The live session with this secret (not expired, not idle longer
        than idle_s, its user enabled), marked as seen now."""
        now = time.time()
        with self.transaction() as db:
            row = db.execute(
                f"SELECT {_USER_COLUMNS}, s.csrf_token, s.expires_at, s.last_seen "
                "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = ?",
                (secret_hash,)).fetchone()
            if row is None:
                return None
            user = _user(row[:7])
            csrf, expires, seen = str(row[7]), float(row[8]), float(row[9])
            if user.disabled or expires <= now or now - seen > idle_s:
                db.execute("DELETE FROM sessions WHERE secret_hash = ?", (secret_hash,))
                return None
            if now - seen > 60:  # a write a minute at most per session
                db.execute("UPDATE sessions SET last_seen = ? WHERE secret_hash = ?",
                           (now, secret_hash))
        return SessionRow(user, csrf, expires)

    def end_session(self, secret_hash: str) -> None:
        with self.reading() as db:
            db.execute("DELETE FROM sessions WHERE secret_hash = ?", (secret_hash,))

    # --- programs' tokens ------------------------------------------------------
    def add_token(self, user_id: int, name: str, secret_hash: str) -> TokenRow:
        now = time.time()
        with self.transaction() as db:
            cur = db.execute("INSERT INTO api_tokens (user_id, name, secret_hash, created_at) "
                             "VALUES (?, ?, ?, ?)", (user_id, name, secret_hash, now))
        return TokenRow(int(cur.lastrowid or 0), name, now, None)

    def token_user(self, secret_hash: str) -> UserRow | None:
        """The enabled user a token belongs to, marking the token used."""
        now = time.time()
        with self.transaction() as db:
            row = db.execute(
                f"SELECT {_USER_COLUMNS}, t.id, t.last_used FROM api_tokens t "
                "JOIN users u ON u.id = t.user_id WHERE t.secret_hash = ?",
                (secret_hash,)).fetchone()
            if row is None:
                return None
            user = _user(row[:7])
            if user.disabled:
                return None
            if row[8] is None or now - float(row[8]) > 60:
                db.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (now, row[7]))
        return user

    def tokens(self, user_id: int) -> list[TokenRow]:
        with self.reading() as db:
            rows = db.execute("SELECT id, name, created_at, last_used FROM api_tokens "
                              "WHERE user_id = ? ORDER BY id", (user_id,)).fetchall()
        return [TokenRow(int(i), str(n), float(c), None if u is None else float(u))
                for i, n, c, u in rows]

    def revoke_token(self, user_id: int, token_id: int) -> bool:
        with self.reading() as db:
            cur = db.execute("DELETE FROM api_tokens WHERE id = ? AND user_id = ?",
                             (token_id, user_id))
        return cur.rowcount == 1
