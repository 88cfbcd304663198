"""The gateway's short path for nodes' protected requests
(GatewaySideContext.open_request and seal_response, CheckedOscoreSite) held
to aiocoap's own OSCORE: the same plain request out of the same bytes, the
same answer's bytes, and nothing taken that aiocoap would refuse (a forged
tag, a replay, an unknown window after a crash all go to aiocoap's path)."""

from __future__ import annotations

import asyncio
import secrets

import aiocoap
from aiocoap import oscore, resource
from aiocoap.numbers.codes import Code
from aiocoap.transports.oscore import OSCOREAddress
from hypothesis import given, settings
from hypothesis import strategies as st
from oscore_support import KEY, NodeSide

from gateway.security.contexts import ContextState, NodeContext, NodeCredentials, Opened
from gateway.security.site import CheckedOscoreSite
from sim.gateway_process import free_udp_port


def gateway_ctx(kid: bytes, window: tuple[int, int] | None = (0, 0)) -> NodeContext:
    return NodeContext("B1", kid, KEY, ContextState(0, window), lambda ctx: None)


def raw(node: NodeSide, path: tuple[str, ...], payload: bytes, mtype: object = aiocoap.CON,
        no_response: int | None = None, token: bytes = b"\x05") -> tuple[bytes, object]:
    """The node's protected POST as bytes, and the node's request id for
    reading the answer."""
    msg = aiocoap.Message(code=Code.POST, uri_path=path, payload=payload,
                          content_format=42, no_response=no_response)
    msg.direction = oscore.Direction.OUTGOING
    protected, request_id = node.protect(msg)
    protected.mtype, protected.mid, protected.token = mtype, secrets.randbits(16), token
    return bytes(protected.encode()), request_id


def wire(node: NodeSide, path: tuple[str, ...], payload: bytes
         ) -> tuple[aiocoap.Message, object]:
    """The same as the gateway parses it off the wire."""
    data, request_id = raw(node, path, payload)
    got = aiocoap.Message.decode(data)
    got.direction = oscore.Direction.INCOMING
    return got, request_id


def piv_of(msg: aiocoap.Message) -> bytes:
    value = msg.opt.oscore
    return bytes(value[1:1 + (value[0] & 7)])


def outer_bytes(msg: aiocoap.Message) -> bytes:
    msg.mtype, msg.mid, msg.token = aiocoap.ACK, 7, b"\x01\x02"
    return bytes(msg.encode())


@settings(max_examples=60, deadline=None)
@given(kid=st.binary(min_size=1, max_size=7), start=st.integers(0, 2**40 - 2),
       path=st.sampled_from([("b",), ("p",), ("s",), ("b", "B1"), ("nodes",)]),
       payload=st.binary(max_size=40),
       answer=st.sampled_from([Code.CHANGED, Code.BAD_REQUEST, Code.UNAUTHORIZED,
                               Code.NOT_FOUND, Code.INTERNAL_SERVER_ERROR]),
       text=st.binary(max_size=30))
def test_the_short_path_reads_and_answers_exactly_as_aiocoap(
        kid: bytes, start: int, path: tuple[str, ...], payload: bytes, answer: Code,
        text: bytes) -> None:
    node = NodeSide(kid, KEY, next_to_send=start)
    request, request_id = wire(node, path, payload)
    ours, theirs = gateway_ctx(kid), gateway_ctx(kid)
    opened = ours.open_request(piv_of(request), request.payload)
    assert opened is not None
    plain, their_id = theirs.unprotect(request)
    assert opened.request.code == plain.code
    assert opened.request.opt.encode() == plain.opt.encode()
    assert opened.request.payload == plain.payload == payload
    assert opened.request.opt.uri_path == path
    # The same answer, protected by both: the same bytes, and the node reads it.
    response = aiocoap.Message(code=answer, payload=text)
    response.direction = oscore.Direction.OUTGOING
    sealed = outer_bytes(ours.seal_response(response, opened))
    reference, _ = theirs.protect(response, their_id)
    assert sealed == outer_bytes(reference)
    back = aiocoap.Message.decode(sealed)
    back.direction = oscore.Direction.INCOMING
    inner, _ = node.unprotect(back, request_id)
    assert inner.code == answer and inner.payload == text


def test_a_forged_tag_or_ciphertext_is_left_to_aiocoap_and_changes_nothing() -> None:
    node, ours = NodeSide(b"\x07", KEY), gateway_ctx(b"\x07")
    request, _ = wire(node, ("b",), b"\x01" * 12)
    for i in range(len(request.payload)):
        forged = request.payload[:i] + bytes((request.payload[i] ^ 0x40,)) \
            + request.payload[i + 1:]
        assert ours.open_request(piv_of(request), forged) is None
    # Another node's key under this kid: refused too.
    other, _ = wire(NodeSide(b"\x07", bytes(16)), ("b",), b"\x01" * 12)
    assert ours.open_request(piv_of(other), other.payload) is None
    # None of these used up the sequence number: the real request is taken.
    assert ours.open_request(piv_of(request), request.payload) is not None


def test_a_replay_and_an_unknown_window_are_left_to_aiocoap() -> None:
    node, ours = NodeSide(b"\x07", KEY), gateway_ctx(b"\x07")
    request, _ = wire(node, ("b",), b"\x01" * 12)
    assert ours.open_request(piv_of(request), request.payload) is not None
    assert ours.open_request(piv_of(request), request.payload) is None  # a replay
    # After a crash the window is unknown: the node must first answer
    # aiocoap's Echo challenge, so the short path takes nothing.
    crashed = gateway_ctx(b"\x07", window=None)
    fresh, _ = wire(node, ("b",), b"\x02" * 12)
    assert crashed.open_request(piv_of(fresh), fresh.payload) is None


class Echoing(resource.Resource):  # type: ignore[misc]
    """Answers who the request was protected for, and its payload."""

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        remote = request.remote
        who = remote.security_context.node_id if isinstance(remote, OSCOREAddress) else "-"
        return aiocoap.Message(code=Code.CHANGED, payload=who.encode() + b":" + request.payload)


class Refusing(resource.Resource):  # type: ignore[misc]
    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        raise aiocoap.error.BadRequest("no")


def test_a_real_server_answers_on_the_short_path_and_refuses_replays_on_aiocoaps() -> None:
    async def scenario() -> None:
        site = resource.Site()
        site.add_resource(["b"], Echoing())
        site.add_resource(["x"], Refusing())
        creds = NodeCredentials()
        creds.add(gateway_ctx(b"\x07"))
        wrapped = CheckedOscoreSite(site, creds)
        port = free_udp_port()
        server = await aiocoap.Context.create_server_context(
            wrapped, bind=("127.0.0.1", port), transports=["udp6"])
        node = NodeSide(b"\x07", KEY)
        loop = asyncio.get_running_loop()

        async def exchange(data: bytes, *before: bytes) -> bytes:
            """The first datagram that comes back after sending `before`
            and then `data` from one socket."""
            transport, proto = await loop.create_datagram_endpoint(
                lambda: _Catch(loop), remote_addr=("127.0.0.1", port))
            try:
                for earlier in before:
                    transport.sendto(earlier)
                transport.sendto(data)
                return await asyncio.wait_for(proto.got, 5)
            finally:
                transport.close()

        def read(answer: bytes, request_id: object) -> aiocoap.Message:
            msg = aiocoap.Message.decode(answer)
            msg.direction = oscore.Direction.INCOMING
            inner, _ = node.unprotect(msg, request_id)
            return inner

        try:
            data, request_id = raw(node, ("b",), b"hello")
            inner = read(await exchange(data), request_id)
            assert (inner.code, inner.payload) == (Code.CHANGED, b"B1:hello")
            assert wrapped.counts["short path"] == 1
            # A resource's refusal is answered protected, as aiocoap does.
            refused, request_id = raw(node, ("x",), b"")
            inner = read(await exchange(refused), request_id)
            assert inner.code == Code.BAD_REQUEST
            # A presence event as the firmware sends it: NON, with
            # No-Response for 2.xx inside the protection. It gets no answer:
            # what comes back first is the answer to the request after it.
            quiet, _ = raw(node, ("b",), b"event", aiocoap.NON, no_response=0x02, token=b"\x0a")
            loud, request_id = raw(node, ("b",), b"after", token=b"\x0b")
            answer = aiocoap.Message.decode(await exchange(loud, quiet))
            assert answer.token == b"\x0b"
            assert wrapped.counts["short path"] == 4
            # An error is still answered (No-Response asked only 2.xx away).
            refused, request_id = raw(node, ("x",), b"", aiocoap.NON, no_response=0x02)
            inner = read(await exchange(refused), request_id)
            assert inner.code == Code.BAD_REQUEST
            # The first request again, under a new message id: a replay,
            # refused by aiocoap's path (4.01, unprotected), nothing rendered.
            again = data[:2] + b"\x00\x63" + data[4:]
            answer = aiocoap.Message.decode(await exchange(again))
            assert answer.code == Code.UNAUTHORIZED and answer.opt.oscore is None
            assert wrapped.counts["short path"] == 5
        finally:
            await server.shutdown()

    asyncio.run(scenario())


class _Catch(asyncio.DatagramProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.got: asyncio.Future[bytes] = loop.create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.got.done():
            self.got.set_result(data)


def test_opened_gives_aiocoaps_request_id_for_answers_it_must_protect() -> None:
    node, ours = NodeSide(b"\x07", KEY), gateway_ctx(b"\x07")
    request, request_id = wire(node, ("b",), b"\x01")
    opened = ours.open_request(piv_of(request), request.payload)
    assert isinstance(opened, Opened)
    # An answer with Observe goes through aiocoap's protect() with this id.
    response = aiocoap.Message(code=Code.CONTENT, observe=3, payload=b"x")
    response.direction = oscore.Direction.OUTGOING
    back = aiocoap.Message.decode(outer_bytes(ours.seal_response(response, opened)))
    back.direction = oscore.Direction.INCOMING
    inner, _ = node.unprotect(back, request_id)
    assert inner.payload == b"x"
