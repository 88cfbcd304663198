"""Property tests of the node's OSCORE (firmware/oscore/): what it protects it
verifies back whole, any change to what OSCORE authenticates is refused, and
it speaks with aiocoap's independent implementation (the gateway's) in both
directions: the node's requests and the gateway's responses, the gateway's
requests and the node's responses."""

from __future__ import annotations

import sys
from pathlib import Path

import aiocoap
import pytest
from aiocoap import oscore
from aiocoap.message import Direction
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.oscore.context import Context
from firmware.oscore.message import Endpoint, OscoreError
from firmware.oscore.sequence import ReplayWindow, SenderSequence
from firmware.proto import coap
from firmware.waste.outbox import MemStore
from sim.hal import AesEcb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aes128 import Aes128  # noqa: E402  (tests/firmware/aes128.py)

SECRET = bytes(range(1, 17))
NODE_ID = b"\x00\x2a"  # a node's two-byte kid
GATEWAY_ID = b""  # the gateway's Sender ID


def node(seq: int = 0, sender: bytes = NODE_ID, recipient: bytes = GATEWAY_ID) -> Endpoint:
    sequence = SenderSequence(MemStore())
    sequence.next = seq
    ctx = Context(AesEcb, SECRET, b"", sender, recipient)
    return Endpoint(ctx, sequence, ReplayWindow(MemStore()))


class GatewayContext(oscore.CanProtect, oscore.CanUnprotect,  # type: ignore[misc]
                     oscore.SecurityContextUtils):  # type: ignore[misc]
    """aiocoap's side of the node's context, in memory."""

    def __init__(self, sender: bytes = GATEWAY_ID, recipient: bytes = NODE_ID) -> None:
        self.alg_aead = oscore.algorithms["AES-CCM-16-64-128"]
        self.hashfun = oscore.hashfunctions["sha256"]
        self.sender_id = sender
        self.recipient_id = recipient
        self.id_context = None
        self.derive_keys(b"", SECRET)
        self.sender_sequence_number = 0
        self.recipient_replay_window = oscore.ReplayWindow(32, lambda: None)
        self.recipient_replay_window.initialize_empty()
        self.echo_recovery = None

    def post_seqnoincrease(self) -> None:
        pass


paths = st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8),
                 min_size=1, max_size=3)
requests = st.builds(
    lambda mtype, mid, token, path, payload: coap.Message(
        mtype, coap.POST, mid, token, [(coap.OPT_URI_PATH, p.encode()) for p in path], payload),
    st.sampled_from([coap.CON, coap.NON]), st.integers(0, 0xFFFF), st.binary(max_size=8),
    paths, st.binary(max_size=64))


@given(requests, st.integers(0, (1 << 40) - 2), st.binary(max_size=40))
def test_protect_then_verify_gives_back_the_message(msg: coap.Message, seq: int,
                                                    answer: bytes) -> None:
    client, server = node(seq), node(0, GATEWAY_ID, NODE_ID)
    outer, request = client.protect_request(msg)
    wire = coap.encode(outer)
    inner, got = server.unprotect_request(coap.decode(wire))
    assert coap.encode(inner) == coap.encode(msg)
    with pytest.raises(OscoreError):  # and only once
        server.unprotect_request(coap.decode(wire))
    reply = coap.Message(coap.ACK, coap.CHANGED, msg.mid, msg.token, [], answer)
    sealed = coap.encode(server.protect_response(reply, got))
    assert coap.encode(client.unprotect_response(coap.decode(sealed), request)) == \
        coap.encode(reply)


def _protected_fields(wire: bytes) -> range:
    """Byte offsets of the OSCORE option's value and on to the end (the
    payload marker, the ciphertext and its tag): what the tag covers, or
    what says which key and nonce to check it with. The header and the
    outer code are not protected by OSCORE."""
    msg = coap.decode(wire)
    value = msg.option(9)
    assert value is not None and len(value) < 13
    # The node's requests have no class U option: OSCORE's is the first,
    # one byte of option header (delta 9, length < 13), then its value.
    start = 4 + len(msg.token) + 1
    assert wire[start - 1] == 0x90 | len(value) and wire[start:start + len(value)] == value
    return range(start, len(wire))


@settings(max_examples=60)
@given(requests, st.integers(0, 1 << 20), st.data())
def test_any_flipped_bit_in_option_or_ciphertext_is_refused(msg: coap.Message, seq: int,
                                                           data: st.DataObject) -> None:
    client = node(seq)
    wire = coap.encode(client.protect_request(msg)[0])
    offsets = _protected_fields(wire)
    at = data.draw(st.sampled_from(offsets))
    bit = data.draw(st.integers(0, 7))
    bad = bytearray(wire)
    bad[at] ^= 1 << bit
    try:
        tampered = coap.decode(bytes(bad))
    except coap.CoapError:
        return
    with pytest.raises(OscoreError):
        node(0, GATEWAY_ID, NODE_ID).unprotect_request(tampered)


@settings(max_examples=20)
@given(requests, st.binary(max_size=20))
def test_the_tests_aes_and_the_hals_give_the_same_bytes(msg: coap.Message, key: bytes) -> None:
    a = Endpoint(Context(Aes128, SECRET, key, NODE_ID, GATEWAY_ID), SenderSequence(MemStore()))
    b = Endpoint(Context(AesEcb, SECRET, key, NODE_ID, GATEWAY_ID), SenderSequence(MemStore()))
    assert coap.encode(a.protect_request(msg)[0]) == coap.encode(b.protect_request(msg)[0])


def _incoming(wire: bytes) -> aiocoap.Message:
    msg = aiocoap.Message.decode(wire)
    msg.direction = Direction.INCOMING
    return msg


def _outgoing(msg: aiocoap.Message) -> aiocoap.Message:
    msg.direction = Direction.OUTGOING
    return msg


@settings(max_examples=40)
@given(requests, st.integers(0, (1 << 40) - 2), st.binary(max_size=40))
def test_the_gateway_on_aiocoap_takes_the_nodes_requests_and_answers(
        msg: coap.Message, seq: int, answer: bytes) -> None:
    client, gateway = node(seq), GatewayContext()
    outer, request = client.protect_request(msg)
    inner, request_id = gateway.unprotect(_incoming(coap.encode(outer)))
    assert inner.code == aiocoap.POST
    assert list(inner.opt.uri_path) == [v.decode() for _, v in msg.options]
    assert inner.payload == msg.payload
    # A replay is refused by aiocoap too.
    with pytest.raises(oscore.ReplayError):
        gateway.unprotect(_incoming(coap.encode(outer)))
    reply = _outgoing(aiocoap.Message(code=aiocoap.CHANGED, payload=answer))
    protected, _ = gateway.protect(reply, request_id)
    protected.mtype, protected.mid, protected.token = aiocoap.ACK, msg.mid, msg.token
    back = client.unprotect_response(coap.decode(protected.encode()), request)
    assert back.code == coap.CHANGED and back.payload == answer
    assert back.mid == msg.mid and back.token == msg.token


@settings(max_examples=40)
@given(st.sampled_from(["c", "z"]), st.binary(max_size=40), st.integers(0, 1 << 30))
def test_the_node_takes_the_gateways_requests_and_answers(path: str, payload: bytes,
                                                          seq: int) -> None:
    server, gateway = node(), GatewayContext()
    gateway.sender_sequence_number = seq
    request = _outgoing(aiocoap.Message(code=aiocoap.POST, uri_path=[path], payload=payload))
    protected, request_id = gateway.protect(request)
    protected.mtype, protected.mid, protected.token = aiocoap.CON, 0x1234, b"\x01"
    wire = protected.encode()
    inner, got = server.unprotect_request(coap.decode(wire))
    assert inner.code == coap.POST and inner.path() == path and inner.payload == payload
    with pytest.raises(OscoreError):
        server.unprotect_request(coap.decode(wire))
    reply = coap.Message(coap.ACK, coap.CHANGED, 0x1234, b"\x01", [], b"ok")
    sealed = server.protect_response(reply, got)
    back, _ = gateway.unprotect(_incoming(coap.encode(sealed)), request_id)
    assert back.code == aiocoap.CHANGED and back.payload == b"ok"
    # A response with a Partial IV of the node's own verifies too.
    sealed = server.protect_response(reply, got, new_piv=True)
    back, _ = gateway.unprotect(_incoming(coap.encode(sealed)), request_id)
    assert back.payload == b"ok"
