"""The gateway's OSCORE contexts, against aiocoap's own OSCORE as the node's
side: a protected report is read, a replay is refused, a window lost in a
crash is recovered with Echo without locking the node out, and the gateway's
own sequence numbers are persisted before they are used."""

from __future__ import annotations

import secrets

import aiocoap
import pytest
from aiocoap import oscore
from aiocoap.numbers.codes import Code
from oscore_support import KEY, NodeSide

from gateway.security.contexts import (
    SEQNO_CHUNK,
    ContextState,
    NodeContext,
    NodeCredentials,
)

KID = b"\x07"


def gateway_ctx(window: tuple[int, int] | None = (0, 0), next_to_send: int = 0,
                persisted: list[int] | None = None) -> NodeContext:
    def persist(ctx: NodeContext) -> None:
        if persisted is not None:
            persisted.append(ctx.sequence_number_persisted)
    return NodeContext("B0007", KID, KEY, ContextState(next_to_send, window), persist)


def report(payload: bytes = b"\x01" * 12, echo: bytes | None = None) -> aiocoap.Message:
    msg = aiocoap.Message(code=Code.POST, uri="coap://gateway/b/B0007", payload=payload)
    if echo is not None:
        msg.opt.echo = echo
    return msg


def incoming(data: bytes) -> aiocoap.Message:
    """What the other end parses from the bytes that arrive."""
    got = aiocoap.Message.decode(data)
    got.direction = oscore.Direction.INCOMING
    return got


def encoded(msg: aiocoap.Message, mtype: object, mid: int, token: bytes) -> bytes:
    msg.mtype, msg.mid, msg.token = mtype, mid, token
    return bytes(msg.encode())


def send(node: NodeSide, msg: aiocoap.Message) -> tuple[bytes, object]:
    """The bytes of the node's protected request, and its request id."""
    msg.direction = oscore.Direction.OUTGOING
    protected, request_id = node.protect(msg)
    return encoded(protected, aiocoap.CON, secrets.randbits(16), b""), request_id


def test_a_protected_report_is_read_and_answered_in_one_context() -> None:
    node, gw = NodeSide(KID, KEY), gateway_ctx()
    creds = NodeCredentials()
    creds.add(gw)
    data, request_id = send(node, report(b"\x01\x02\x03"))
    wire = incoming(data)
    ctx = creds.find_oscore(oscore.verify_start(wire))
    assert ctx is gw
    plain, gw_request_id = ctx.unprotect(wire)
    assert plain.opt.uri_path == ("b", "B0007") and plain.payload == b"\x01\x02\x03"
    answer = aiocoap.Message(code=Code.CHANGED)
    answer.direction = oscore.Direction.OUTGOING
    protected, _ = ctx.protect(answer, gw_request_id)
    back, _ = node.unprotect(incoming(encoded(protected, aiocoap.ACK, wire.mid, wire.token)),
                             request_id)
    assert back.code == Code.CHANGED
    assert "key" not in repr(gw).lower() and KEY.hex() not in repr(gw)


def test_a_replayed_report_is_refused() -> None:
    node, gw = NodeSide(KID, KEY), gateway_ctx()
    data, _ = send(node, report())
    gw.unprotect(incoming(data))
    with pytest.raises(oscore.ReplayError):
        gw.unprotect(incoming(data))


def test_a_tampered_report_is_refused() -> None:
    node = NodeSide(KID, KEY)
    data, _ = send(node, report())
    for i in range(len(incoming(data).payload)):
        bad = incoming(data)
        bad.payload = bad.payload[:i] + bytes([bad.payload[i] ^ 0x01]) + bad.payload[i + 1:]
        with pytest.raises(oscore.ProtectionInvalid):
            gateway_ctx().unprotect(bad)


def test_another_key_finds_no_context_or_fails() -> None:
    node = NodeSide(KID, bytes(16))
    data, _ = send(node, report())
    with pytest.raises(oscore.ProtectionInvalid):
        gateway_ctx().unprotect(incoming(data))
    creds = NodeCredentials()
    creds.add(gateway_ctx())
    with pytest.raises(KeyError):
        creds.find_oscore(oscore.verify_start(incoming(send(NodeSide(b"\x08", KEY), report())[0])))


def test_after_a_crash_the_window_is_recovered_with_echo_and_nothing_replays() -> None:
    node = NodeSide(KID, KEY)
    before = gateway_ctx()
    old, _ = send(node, report())
    before.unprotect(incoming(old))
    # The gateway crashed: the stored window is unknown. An attacker's replay
    # of the old report is not accepted: it only draws a challenge.
    after = gateway_ctx(window=None)
    with pytest.raises(oscore.ReplayErrorWithEcho):
        after.unprotect(incoming(old))
    # The node's next report draws the same challenge, protected for it: a
    # 4.01 with an Echo value, which only the node can read.
    first, request_id = send(node, report())
    with pytest.raises(oscore.ReplayErrorWithEcho) as refused:
        after.unprotect(incoming(first))
    challenge = refused.value.to_message()
    challenge.direction = oscore.Direction.OUTGOING
    wire = incoming(encoded(challenge, aiocoap.ACK, 1, b""))
    inner, _ = node.unprotect(wire, request_id)
    assert inner.code == Code.UNAUTHORIZED and inner.opt.echo
    # It repeats the report with the Echo value: accepted, and the old report
    # stays refused from now on.
    fresh, _ = send(node, report(echo=inner.opt.echo))
    plain, _ = after.unprotect(incoming(fresh))
    assert plain.opt.echo == inner.opt.echo
    with pytest.raises(oscore.ReplayError):
        after.unprotect(incoming(old))


def test_the_gateways_sequence_numbers_are_persisted_before_use() -> None:
    persisted: list[int] = []
    gw = gateway_ctx(next_to_send=500, persisted=persisted)
    used = [gw.new_sequence_number() for _ in range(SEQNO_CHUNK + 5)]
    assert used[0] == 500
    # Each number was below what had been persisted when it was handed out.
    assert persisted == [500 + SEQNO_CHUNK, 500 + 2 * SEQNO_CHUNK]
    assert gw.state(window_known=False) == ContextState(500 + 2 * SEQNO_CHUNK, None)
    # After a restart from that state no number repeats.
    again = gateway_ctx(next_to_send=gw.state(window_known=False).next_to_send)
    assert again.new_sequence_number() > max(used)


def test_a_clean_stop_keeps_the_window() -> None:
    node, gw = NodeSide(KID, KEY), gateway_ctx()
    data, _ = send(node, report())
    gw.unprotect(incoming(data))
    state = gw.state(window_known=True)
    assert state.window is not None
    restarted = gateway_ctx(window=state.window)
    with pytest.raises(oscore.ReplayError):
        restarted.unprotect(incoming(data))
