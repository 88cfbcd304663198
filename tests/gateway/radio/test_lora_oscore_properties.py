"""Property tests of the gateway's protected LoRa path (gateway/radio/lora.py)
with aiocoap's OSCORE and the gateway's own node context: whatever follows an
OSCORE option on the air, a frame that is not the node's own is neither
rendered nor answered, and never stops the radio path; the node's own frame
is rendered once and answered in the compact form, which the node's
implementation (firmware/oscore/) verifies."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiocoap
from aiocoap import resource
from aiocoap.transports.oscore import OSCOREAddress
from hypothesis import example, given, settings
from hypothesis import strategies as st

from firmware.lora import plan as radio_plan
from firmware.lora.bridge_frame import Rx
from firmware.lora.link import RESPONSE_LEN, decode_feedback, node_tag
from firmware.oscore.context import Context
from firmware.oscore.message import Endpoint
from firmware.oscore.sequence import SenderSequence
from firmware.proto import coap
from gateway.radio.downlink import Downlink
from gateway.radio.lora import LoraLink
from gateway.security.contexts import ContextState, NodeContext, NodeCredentials
from sim.hal import AesEcb

KEY = bytes(range(16))
KID = b"\x07"


class Store:
    def __init__(self) -> None:
        self.data = b""

    def load(self) -> bytes:
        return self.data

    def save(self, data: bytes) -> None:
        self.data = bytes(data)


class Reports(resource.Resource, resource.PathCapable):  # type: ignore[misc]
    """Takes every report it is given, noting who protected it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[tuple[str, ...], str | None]] = []

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        remote = request.remote
        owner = remote.security_context.node_id if isinstance(remote, OSCOREAddress) else None
        self.seen.append((tuple(request.opt.uri_path), owner))
        return aiocoap.Message(code=aiocoap.CHANGED)


async def heard(frames: list[bytes]) -> tuple[Reports, Downlink, LoraLink]:
    site = resource.Site()
    reports = Reports()
    site.add_resource(["b"], reports)
    credentials = NodeCredentials()
    # The window known (as after a clean stop): no Echo challenge.
    credentials.add(NodeContext("B0001", KID, KEY, ContextState(0, (0, 0)), lambda c: None))
    nodes: Mapping[str, object] = {"B0001": object()}
    downlink = Downlink()
    link = LoraLink(site, nodes, downlink, credentials)
    for i, frame in enumerate(frames):
        await link.uplink(Rx(1000 * i, radio_plan.UPLINK_KHZ, 9, -100, -20, frame), 1000 * i)
    return reports, downlink, link


def header(mid: int, option: bytes) -> bytes:
    n = len(option)
    assert n < 13
    return bytes((0x40, coap.POST, mid >> 8, mid & 0xFF, 0x90 | n)) + option


options = st.one_of(
    st.binary(max_size=8),  # anything
    # flags n (1..3) and k, a Partial IV, the node's own kid or another
    st.tuples(st.integers(1, 3), st.sampled_from([KID, b"\x08", b"", b"\x00\x07"]))
    .flatmap(lambda t: st.binary(min_size=t[0], max_size=t[0])
             .map(lambda piv: bytes((0x08 | t[0],)) + piv + t[1])),
)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 0xFFFF), options, st.booleans(), st.binary(max_size=48))
@example(0, b"\x19\x00", False, b"")  # a kid context announced, cut short
@example(0, b"\x09\x01\x07", True, bytes(12))  # the node's kid, a forged tag
def test_what_is_not_the_nodes_own_is_neither_rendered_nor_answered(
        mid: int, option: bytes, marker: bool, payload: bytes) -> None:
    frame = header(mid, option) + (b"\xff" + payload if marker and payload else b"")
    reports, downlink, link = asyncio.run(heard([frame]))
    assert reports.seen == [] and downlink.waiting() == 0
    assert link.counts["failed"] == 0  # each was handled, none escaped


def node_frame(mid: int, seq_store: Store) -> tuple[bytes, object, Endpoint]:
    node = Endpoint(Context(AesEcb, KEY, None, KID, b""), SenderSequence(seq_store))
    msg = coap.Message(coap.CON, coap.POST, mid, b"",
                       [(coap.OPT_URI_PATH, b"b"), (coap.OPT_URI_PATH, b"B0001")], bytes(12))
    protected, request = node.protect_request(msg)
    return bytes(coap.encode(protected)), request, node


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 0xFFFF), st.integers(1, 3))
def test_the_nodes_own_frame_is_rendered_once_and_answered_protected(
        mid: int, copies: int) -> None:
    frame, request, node = node_frame(mid, Store())
    reports, downlink, _ = asyncio.run(heard([frame] * copies))
    assert reports.seen == [(("B0001",), "B0001")]
    assert downlink.waiting() == copies  # the same answer for each retransmission
    answers = {p.frame for p in downlink._queue}
    assert len(answers) == 1
    answer = coap.decode(answers.pop())
    assert answer.options == [(9, b"")] and answer.mid == mid and answer.mtype == coap.ACK
    inner = node.unprotect_response(answer, request)
    assert inner.code == coap.CHANGED
    assert decode_feedback(inner.payload).tag == node_tag("B0001")
    assert len(coap.encode(answer)) == RESPONSE_LEN
