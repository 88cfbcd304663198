"""A technician's credential on the laptop: the client side of the OSCORE
context that management requests (PUT/GET /nodes) are protected with.

The credential is three values, made by `kvarter gateway technician add` and
carried in the technician's site profile: a name, the Sender ID (kid) and the
16-byte Master Secret; the ID Context is TECHNICIAN_ID_CONTEXT, the gateway's
Sender ID empty, the algorithms those of every node's context. Protection is
aiocoap's; what is ours is that the laptop never uses a sequence number twice
across runs: the next one is kept in a state file, written ahead in chunks
before use (RFC 8613 Appendix B.1.1), and a lock on that file keeps two
commands on one laptop from using the same numbers at once. One credential
belongs to one laptop: a copy on a second laptop would have its own state
file and reuse numbers, so each laptop gets a credential of its own."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiocoap import oscore

from gateway.security.contexts import ALGORITHM, GATEWAY_ID, TECHNICIAN_ID_CONTEXT, WINDOW
from gateway.storage.technicians import NAME

SEQNO_CHUNK = 20  # Appendix B.1.1's K: a command sends a few requests at most


class CredentialError(RuntimeError):
    """A technician credential that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class TechnicianCredential:
    name: str
    kid: bytes
    secret: bytes = field(repr=False)
    # Where the laptop keeps its sequence numbers for this credential (None:
    # $XDG_STATE_HOME/kvarter, else ~/.local/state/kvarter).
    state_dir: Path | None = None

    def toml(self) -> str:
        """The lines for the technician's site profile."""
        return (f"[technician]\nname = \"{self.name}\"\nid = \"{self.kid.hex()}\"\n"
                f"secret = \"{self.secret.hex()}\"\n")

    def state_file(self, environ: Mapping[str, str] | None = None) -> Path:
        env = os.environ if environ is None else environ
        base = self.state_dir or Path(env.get("XDG_STATE_HOME")
                                      or Path.home() / ".local" / "state") / "kvarter"
        # A new credential (a rotation) starts a state of its own; the file
        # name tells nothing of the secret but that it differs.
        tag = hashlib.sha256(b"kvarter state\x00" + self.secret).hexdigest()[:12]
        return base / f"technician-{self.name}-{self.kid.hex()}-{tag}.json"


def credential_from(raw: Any, where: str) -> TechnicianCredential:
    """A credential from a site profile's [technician] table; CredentialError
    names what is wrong."""
    if not isinstance(raw, dict):
        raise CredentialError(f"{where}: [technician] must be a table")
    unknown = sorted(set(raw) - {"name", "id", "secret"})
    if unknown:
        raise CredentialError(f"{where}: [technician] has no setting {', '.join(unknown)}; "
                              "known: name, id, secret")
    missing = [k for k in ("name", "id", "secret") if k not in raw]
    if missing:
        raise CredentialError(f"{where}: [technician] needs name, id and secret ("
                              f"{', '.join(missing)} missing): paste all the lines the "
                              "gateway's admin gave you")
    name, kid, secret = raw["name"], raw["id"], raw["secret"]
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise CredentialError(f"{where}: technician.name is not a name the gateway gives "
                              f"(got {name!r}): paste the lines again")
    for label, value, sizes in (("id", kid, range(1, 4)), ("secret", secret, (16,))):
        try:
            ok = isinstance(value, str) and len(bytes.fromhex(value)) in sizes
        except ValueError:
            ok = False
        if not ok:
            raise CredentialError(f"{where}: technician.{label} is not the hex value the "
                                  "gateway's admin gave: paste the lines again")
    return TechnicianCredential(name, bytes.fromhex(kid), bytes.fromhex(secret))


class LaptopContext(oscore.CanProtect, oscore.CanUnprotect,  # type: ignore[misc]
                    oscore.SecurityContextUtils):  # type: ignore[misc]
    """The laptop's side of a technician's context, for aiocoap's client."""

    def __init__(self, credential: TechnicianCredential, next_to_send: int,
                 persist: Any) -> None:
        self.technician = credential.name
        self.authenticated_claims = [f"technician:{credential.name}"]
        self.alg_aead = oscore.algorithms[ALGORITHM]
        self.hashfun = oscore.hashfunctions["sha256"]
        self.sender_id = credential.kid
        self.recipient_id = GATEWAY_ID
        self.id_context = TECHNICIAN_ID_CONTEXT
        self.derive_keys(b"", credential.secret)
        self.sender_sequence_number = next_to_send
        self.sequence_number_persisted = next_to_send
        self._persist = persist
        # Only answers come this way, each bound to its request: the window
        # is never asked.
        self.recipient_replay_window = oscore.ReplayWindow(WINDOW, lambda: None)
        self.recipient_replay_window.initialize_empty()
        self.echo_recovery = None

    def __repr__(self) -> str:
        return f"<LaptopContext {self.technician!r} kid {self.sender_id.hex()}>"

    def post_seqnoincrease(self) -> None:
        if self.sender_sequence_number > self.sequence_number_persisted:
            self.sequence_number_persisted += SEQNO_CHUNK
            self._persist(self.sequence_number_persisted)


def _write_state(path: Path, next_to_send: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".technician-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"next_to_send": next_to_send}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_state(path: Path, credential: TechnicianCredential) -> int:
    try:
        raw = json.loads(path.read_text())
        value = raw["next_to_send"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(value)
        return int(value)
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, KeyError, TypeError) as e:
        # Starting again from 0 would reuse nonces: the credential is spent.
        raise CredentialError(
            f"the sequence numbers of technician credential {credential.name!r} in {path} "
            f"cannot be read ({type(e).__name__}); ask the gateway's admin for a new "
            f"credential ('kvarter gateway technician rotate {credential.name}')") from None


@dataclass
class _Open:
    ctx: LaptopContext
    lock: int
    users: int = 0


# The contexts open in this process, by state file: concurrent requests of
# one process share one context (a second lock on the file from the same
# process would wait for itself).
_open: dict[Path, _Open] = {}
_guard = threading.Lock()


@contextmanager
def laptop_context(credential: TechnicianCredential) -> Iterator[LaptopContext]:
    """The credential's context while the block runs, its state file locked
    against other processes; when the last user in this process is done, the
    exact next sequence number is written back."""
    path = credential.state_file()
    with _guard:
        entry = _open.get(path)
        if entry is None:
            entry = _Open(*_load(credential, path))
            _open[path] = entry
        entry.users += 1
    try:
        yield entry.ctx
    finally:
        with _guard:
            entry.users -= 1
            if entry.users == 0:
                del _open[path]
                try:
                    _write_state(path, entry.ctx.sender_sequence_number)
                finally:
                    os.close(entry.lock)


def _load(credential: TechnicianCredential, path: Path) -> tuple[LaptopContext, int]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = os.open(path.with_suffix(".lock"), os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as e:
        raise CredentialError(f"cannot keep the technician credential's state in "
                              f"{path.parent}: {e.strerror or e}") from None
    try:
        # Another process with the same credential waits here: two at once
        # would use the same sequence numbers.
        fcntl.flock(lock, fcntl.LOCK_EX)
        ctx = LaptopContext(credential, _read_state(path, credential),
                            lambda upto: _write_state(path, upto))
    except BaseException:
        os.close(lock)
        raise
    return ctx, lock
