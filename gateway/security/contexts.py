"""Each node's and each technician's OSCORE security context at the gateway.

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

A technician's context (what management requests need) is the same, with an
ID Context of its own (TECHNICIAN_ID_CONTEXT) and a random Master Secret made
by `kvarter gateway technician add`; the gateway's Sender ID is empty there
too, the technician's is the kid that command gives.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiocoap
from aiocoap import error, oscore
from aiocoap.numbers.codes import Code
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from firmware.oscore.message import OscoreError, parse_option
from gateway.security import aead

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


class GatewaySideContext(oscore.CanProtect, oscore.CanUnprotect,  # type: ignore[misc]
                         oscore.SecurityContextUtils):  # type: ignore[misc]
    """The gateway's side of one context, a node's or a technician's."""

    def __init__(self, recipient_id: bytes, key: bytes, id_context: bytes | None,
                 state: ContextState, persist: Callable[[GatewaySideContext], None]) -> None:
        self.alg_aead = oscore.algorithms[ALGORITHM]
        self.hashfun = oscore.hashfunctions["sha256"]
        self.sender_id = GATEWAY_ID
        self.recipient_id = recipient_id
        self.id_context = id_context
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
        # Echo value, and accepts the peer's repeat that carries it.
        self.echo_recovery = secrets.token_bytes(8)
        self._open = AESCCM(self.recipient_key, tag_length=aead.TAG_BYTES)
        self._seal = AESCCM(self.sender_key, tag_length=aead.TAG_BYTES)

    def open_request(self, piv: bytes, ciphertext: bytes) -> Opened | None:
        """A request protected with this context (its kid, Partial IV `piv`,
        no ID Context), verified and taken into the replay window: the plain
        request and what its answer is sealed with. None when it is not a
        fresh request that verifies, or is outside what gateway.security.aead
        covers: aiocoap's unprotect() then takes it and answers it as always
        (a replay, the Echo challenge after a crash, a forged tag), so that
        nothing is accepted here that aiocoap's OSCORE would refuse."""
        kid = bytes(self.recipient_id)
        if not aead.fits(kid, piv) or len(ciphertext) <= aead.TAG_BYTES:
            return None
        window = self.recipient_replay_window
        seqno = int.from_bytes(piv, "big")
        if not window.is_initialized() or not window.is_valid(seqno):
            return None
        nonce = aead.nonce(self.common_iv, kid, piv)
        aad = aead.aad(kid, piv)
        try:
            plaintext = self._open.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            return None
        inner = aiocoap.Message(code=plaintext[0])
        try:
            inner.payload = inner.opt.decode(plaintext[1:])
        except (ValueError, IndexError, UnicodeError):
            return None  # aiocoap's unprotect() refuses it as it does
        # Only now, with the request verified and read: a number is struck
        # out only by a request that is taken.
        window.strike_out(seqno)
        # As aiocoap: an inner Observe counts only with an outer one, and a
        # request with an outer Observe never comes here (site.py).
        inner.opt.observe = None
        inner.direction = aiocoap.message.Direction.INCOMING
        return Opened(inner, nonce, aad, RequestId(kid, piv))

    def seal_response(self, response: aiocoap.Message, opened: Opened) -> aiocoap.Message:
        """The protected answer to an opened request (section 8.3): the
        request's nonce again, no Partial IV, every option inside; outside a
        2.04 with an empty OSCORE option. An answer with Observe (none of the
        gateway's resources gives one) goes through aiocoap's protect()."""
        if response.opt.observe is not None:
            protected, _ = self.protect(response, opened.request_id())
            return protected
        plaintext = bytes((response.code,)) + response.opt.encode()
        if response.payload:
            plaintext += b"\xff" + response.payload
        outer = aiocoap.Message(code=Code.CHANGED, payload=self._seal.encrypt(
            opened.nonce, plaintext, opened.aad))
        outer.opt.oscore = b""
        outer.direction = aiocoap.message.Direction.OUTGOING
        outer.transport_tuning = response.transport_tuning
        return outer

    def unprotect(self, protected_message: Any, request_id: Any = None) -> Any:
        # A request's OSCORE option is checked by the node's strict parser
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


@dataclass(frozen=True)
class RequestId:
    """Who made a request's Partial IV, and the Partial IV."""
    kid: bytes
    piv: bytes


@dataclass(frozen=True)
class Opened:
    """A verified request: the plain request, and the nonce and AAD its
    answer is protected with."""
    request: aiocoap.Message
    nonce: bytes
    aad: bytes
    source: RequestId

    def request_id(self) -> oscore.RequestIdentifiers:
        """As aiocoap's unprotect() would have given it."""
        return oscore.RequestIdentifiers(self.source.kid, self.source.piv, can_reuse_nonce=True,
                                         request_code=Code.POST)


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


class NodeContext(GatewaySideContext):
    """The gateway's side of one node's context."""

    def __init__(self, node_id: str, kid: bytes, key: bytes, state: ContextState,
                 persist: Callable[[NodeContext], None]) -> None:
        self.node_id = node_id
        self.authenticated_claims = [node_id]
        super().__init__(kid, key, None, state, persist)

    def __repr__(self) -> str:
        # Never the keys: a context may end up in a log line.
        return f"<NodeContext {self.node_id!r} kid {self.recipient_id.hex()}>"


# A technician's context is told apart from every node's by this ID Context
# (RFC 8613 5.1): nodes never send one, so no node kid, however many nodes a
# gateway gets, can name a technician's context, and the ID Context enters
# the key derivation, so even an equal kid would give different keys.
TECHNICIAN_ID_CONTEXT = b"kvarter-tech"

# What every request gets that does not verify with an active technician's
# context: the same words whether the kid is unknown, revoked or the key
# wrong, so that an answer tells nothing about which technicians exist.
NOT_A_TECHNICIAN = ("no valid technician credential: ask the gateway's admin for one "
                    "('kvarter gateway technician add NAME') and put it in the site profile")


class TechnicianContext(GatewaySideContext):
    """The gateway's side of one technician's (or operator's) context: what
    authorises registrations and the registry (PUT/GET /nodes)."""

    def __init__(self, name: str, kid: bytes, key: bytes, state: ContextState,
                 persist: Callable[[TechnicianContext], None]) -> None:
        self.technician = name
        self.authenticated_claims = [f"technician:{name}"]
        super().__init__(kid, key, TECHNICIAN_ID_CONTEXT, state, persist)

    def __repr__(self) -> str:
        return f"<TechnicianContext {self.technician!r} kid {self.recipient_id.hex()}>"

    def unprotect(self, protected_message: Any, request_id: Any = None) -> Any:
        try:
            return super().unprotect(protected_message, request_id)
        except (oscore.ReplayError, oscore.ReplayErrorWithEcho):
            raise  # a replay, or the Echo challenge after a crash: aiocoap answers those
        except oscore.ProtectionInvalid:
            # A wrong key is refused as an unknown or revoked credential is.
            raise error.Unauthorized(NOT_A_TECHNICIAN) from None


class RefusedTechnician:
    """Stands for an unknown or revoked technician's kid: OscoreSiteWrapper
    renders what unprotecting raises, a 4.01 with NOT_A_TECHNICIAN."""

    def unprotect(self, protected_message: Any, request_id: Any = None) -> Any:
        raise error.Unauthorized(NOT_A_TECHNICIAN)


class NodeCredentials:
    """The contexts of every node with a key, found by the kid a protected
    request carries (what aiocoap's OscoreSiteWrapper asks its credentials)."""

    def __init__(self) -> None:
        self._by_kid: dict[bytes, NodeContext] = {}
        self._by_node: dict[str, NodeContext] = {}
        # Technicians' contexts, by kid (set by the keyring).
        self.technician: Callable[[bytes], TechnicianContext | RefusedTechnician] = \
            lambda kid: RefusedTechnician()

    def add(self, ctx: NodeContext) -> None:
        old = self._by_node.pop(ctx.node_id, None)
        if old is not None:
            self._by_kid.pop(old.recipient_id, None)
        self._by_kid[ctx.recipient_id] = ctx
        self._by_node[ctx.node_id] = ctx

    def for_node(self, node_id: str) -> NodeContext | None:
        return self._by_node.get(node_id)

    def for_kid(self, kid: bytes) -> NodeContext | None:
        """The node context a request's kid names (no ID Context)."""
        return self._by_kid.get(kid)

    def contexts(self) -> list[NodeContext]:
        return list(self._by_node.values())

    def find_oscore(self, unprotected: dict[object, object]
                    ) -> NodeContext | TechnicianContext | RefusedTechnician:
        kid_context = unprotected.get(oscore.COSE_KID_CONTEXT)
        kid = unprotected.get(oscore.COSE_KID)
        if kid_context == TECHNICIAN_ID_CONTEXT:
            return self.technician(kid) if isinstance(kid, bytes) else RefusedTechnician()
        if kid_context is not None:
            raise KeyError("no other ID Context is used")
        ctx = self._by_kid.get(kid) if isinstance(kid, bytes) else None
        if ctx is None:
            raise KeyError("unknown kid")
        return ctx

    def find_all_used_contextless_oscore_kid(self) -> set[bytes]:
        return set(self._by_kid)
