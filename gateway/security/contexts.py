"""Each node's OSCORE security context at the gateway.

The node's provisioned 16-byte key is the context's Master Secret (no Master
Salt, no ID Context); AES-CCM-16-64-128 and HKDF-SHA256, as the node's own
implementation (firmware/oscore/) has them. Identifiers are short so that
frames stay small: the gateway's Sender ID is empty, a node's is its one- or
two-byte `kid`, which the gateway gives each node at registration.

The protection itself is aiocoap's (its `CanProtect`/`CanUnprotect`), so in
every exchange the node's implementation meets an independent one. What is
ours is where the state lives:

- The gateway's own sequence numbers are used only for requests it starts (a
  profile push): they are persisted ahead in chunks (RFC 8613 Appendix B.1.1)
  through `persist`, which the context's owner writes before the chunk is
  used, so a number is never used twice even after a crash.
- A replay window is never written per request: that would put a disk write
  on every report's path. It is written on a clean stop; while the gateway
  runs the stored windows are marked unknown, so after a crash a window is
  unknown and the node proves freshness once with the Echo option (RFC 9175,
  as RFC 8613 Appendix B.1.2 describes) before its requests are accepted:
  nothing replays and no node is locked out.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiocoap import oscore

from firmware.oscore.message import OscoreError, parse_option

ALGORITHM = "AES-CCM-16-64-128"
WINDOW = 32  # RFC 8613's default replay window
GATEWAY_ID = b""  # the gateway's Sender ID in every node's context
SEQNO_CHUNK = 100  # Appendix B.1.1's K for the gateway's own sequence numbers


@dataclass(frozen=True)
class ContextState:
    """What is kept of a context between runs: the next sequence number the
    gateway may use, and the replay window (None: unknown, as after a crash)."""
    next_to_send: int
    window: tuple[int, int] | None  # (index, bitfield)


class NodeContext(oscore.CanProtect, oscore.CanUnprotect,  # type: ignore[misc]
                  oscore.SecurityContextUtils):  # type: ignore[misc]
    """The gateway's side of one node's context."""

    def __init__(self, node_id: str, kid: bytes, key: bytes, state: ContextState,
                 persist: Callable[[NodeContext], None]) -> None:
        self.node_id = node_id
        self.authenticated_claims = [node_id]
        self.alg_aead = oscore.algorithms[ALGORITHM]
        self.hashfun = oscore.hashfunctions["sha256"]
        self.sender_id = GATEWAY_ID
        self.recipient_id = kid
        self.id_context = None
        self.derive_keys(b"", key)
        self._persist = persist
        self.sender_sequence_number = state.next_to_send
        # Numbers below this are safe to use: persisted ahead of use.
        self.sequence_number_persisted = state.next_to_send
        self.recipient_replay_window = oscore.ReplayWindow(WINDOW, lambda: None)
        if state.window is not None:
            self.recipient_replay_window.initialize_from_persisted(
                {"index": state.window[0], "bitfield": state.window[1]})
        # With an unknown window, aiocoap answers a request 4.01 with this
        # Echo value, and accepts the node's repeat that carries it.
        self.echo_recovery = secrets.token_bytes(8)

    def __repr__(self) -> str:
        # Never the keys: a context may end up in a log line.
        return f"<NodeContext {self.node_id!r} kid {self.recipient_id.hex()}>"

    def unprotect(self, protected_message: Any, request_id: Any = None) -> Any:
        # An answer's OSCORE option is checked by the node's strict parser
        # first (option_error()): aiocoap's fails with IndexError or
        # AttributeError on some forged ones instead of its DecodeError.
        problem = option_error(protected_message.opt.oscore)
        if problem is not None:
            raise oscore.DecodeError(problem)
        return super().unprotect(protected_message, request_id)

    def post_seqnoincrease(self) -> None:
        if self.sender_sequence_number > self.sequence_number_persisted:
            self.sequence_number_persisted += SEQNO_CHUNK
            self._persist(self)

    def state(self, *, window_known: bool) -> ContextState:
        """What to keep now; window_known=False while the gateway runs."""
        window = None
        if window_known and self.recipient_replay_window.is_initialized():
            kept = self.recipient_replay_window.persist()
            window = (int(kept["index"]), int(kept["bitfield"]))
        return ContextState(self.sequence_number_persisted, window)


def option_error(value: bytes | None) -> str | None:
    """What is wrong with an OSCORE option's value as RFC 8613 6.1 lays it
    out, or None when it is well formed (or absent). The node's own parser
    (firmware/oscore/message.py) is the strict one: it refuses the group
    flag, reserved bits, and a Partial IV or kid context cut short, all of
    which a forged datagram can carry."""
    if value is None:
        return None
    try:
        parse_option(value)
    except OscoreError as e:
        return str(e)
    return None


class NodeCredentials:
    """The contexts of every node with a key, found by the kid a protected
    request carries (what aiocoap's OscoreSiteWrapper asks its credentials)."""

    def __init__(self) -> None:
        self._by_kid: dict[bytes, NodeContext] = {}
        self._by_node: dict[str, NodeContext] = {}

    def add(self, ctx: NodeContext) -> None:
        old = self._by_node.pop(ctx.node_id, None)
        if old is not None:
            self._by_kid.pop(old.recipient_id, None)
        self._by_kid[ctx.recipient_id] = ctx
        self._by_node[ctx.node_id] = ctx

    def for_node(self, node_id: str) -> NodeContext | None:
        return self._by_node.get(node_id)

    def contexts(self) -> list[NodeContext]:
        return list(self._by_node.values())

    def find_oscore(self, unprotected: dict[object, object]) -> NodeContext:
        if unprotected.get(oscore.COSE_KID_CONTEXT) is not None:
            raise KeyError("no ID Context is used")
        kid = unprotected.get(oscore.COSE_KID)
        ctx = self._by_kid.get(kid) if isinstance(kid, bytes) else None
        if ctx is None:
            raise KeyError("unknown kid")
        return ctx

    def find_all_used_contextless_oscore_kid(self) -> set[bytes]:
        return set(self._by_kid)
