"""The nodes' side of the protected ingest benchmark: one OSCORE context per
simulated node (aiocoap's implementation, as the node's firmware would
derive it from its key and kid), and the same contexts for the bare aiocoap
server, so that both servers are asked the same protected requests."""

from __future__ import annotations

import hashlib

import aiocoap
from aiocoap import oscore
from aiocoap.numbers.codes import Code

from firmware.proto.coap import NO_RESPONSE_2XX
from gateway.security.contexts import ALGORITHM, GATEWAY_ID, WINDOW


def node_key(i: int) -> bytes:
    return hashlib.sha256(f"bench node {i}".encode()).digest()[:16]


class Context(oscore.CanProtect, oscore.CanUnprotect,  # type: ignore[misc]
              oscore.SecurityContextUtils):  # type: ignore[misc]
    """One end of a node's context: the node's (sender = its kid) or the
    server's (sender = the gateway's empty id)."""

    def __init__(self, kid: bytes, key: bytes, node_end: bool) -> None:
        self.alg_aead = oscore.algorithms[ALGORITHM]
        self.hashfun = oscore.hashfunctions["sha256"]
        self.sender_id, self.recipient_id = (kid, GATEWAY_ID) if node_end else (GATEWAY_ID, kid)
        self.id_context = None
        self.derive_keys(b"", key)
        self.sender_sequence_number = 0
        self.recipient_replay_window = oscore.ReplayWindow(WINDOW, lambda: None)
        self.recipient_replay_window.initialize_empty()
        self.echo_recovery = None
        self.authenticated_claims: list[str] = []

    def post_seqnoincrease(self) -> None:
        pass  # a benchmark's contexts live for one run


class BareCredentials:
    """What aiocoap's OscoreSiteWrapper asks: the context a kid names."""

    def __init__(self, contexts: dict[bytes, Context]) -> None:
        self.by_kid = contexts

    def find_oscore(self, unprotected: dict[object, object]) -> Context:
        kid = unprotected.get(oscore.COSE_KID)
        if not isinstance(kid, bytes) or kid not in self.by_kid:
            raise KeyError("unknown kid")
        return self.by_kid[kid]

    def find_all_used_contextless_oscore_kid(self) -> set[bytes]:
        return set(self.by_kid)


def bare_kid(i: int) -> bytes:
    return bytes((i + 1,))


def bare_credentials(n: int) -> BareCredentials:
    return BareCredentials({bare_kid(i): Context(bare_kid(i), node_key(i), node_end=False)
                            for i in range(n)})


class ProtectingNode:
    """A node's end: protects its reports, and reads the answers to them."""

    def __init__(self, node_id: str, kid: bytes, key: bytes) -> None:
        self.node_id = node_id
        self.ctx = Context(kid, key, node_end=True)
        self.request_id: object = None

    def protect(self, payload: bytes, mid: int, token: bytes, path: str = "b",
                mtype: aiocoap.numbers.types.Type = aiocoap.CON) -> bytes:
        """A POST of payload to /path, protected as the node sends it (its id
        left out: the key names it; a NON with No-Response for 2.xx inside,
        as firmware/net/uplink.py sends it)."""
        msg = aiocoap.Message(code=Code.POST, uri=f"coap://gateway/{path}", payload=payload,
                              no_response=NO_RESPONSE_2XX if mtype == aiocoap.NON else None)
        msg.direction = aiocoap.message.Direction.OUTGOING
        protected, self.request_id = self.ctx.protect(msg)
        protected.mtype, protected.mid, protected.token = mtype, mid, token
        return bytes(protected.encode())

    def answered_changed(self, data: bytes) -> bool:
        """True when data is the server's verified 2.04 to the last report."""
        try:
            msg = aiocoap.Message.decode(data)
            msg.direction = aiocoap.message.Direction.INCOMING
            inner, _ = self.ctx.unprotect(msg, self.request_id)
        except Exception:  # a benchmark counts what verified, nothing else
            return False
        return bool(inner.code == Code.CHANGED)
