# The node's CoAP client, in the MicroPython VM as well as CPython.
from firmware.proto import coap


def _request(mtype=coap.CON):
    return coap.Message(mtype, coap.POST, 0x1234, b"\xab\xcd",
                        [(coap.OPT_URI_PATH, b"b"), (coap.OPT_URI_PATH, b"B0001"),
                         (coap.OPT_CONTENT_FORMAT, b"\x2a")], b"\x01\x02")


def test_encode_matches_rfc7252_layout():
    data = coap.encode(_request())
    # ver 1, CON, TKL 2 | POST | MID | token | Uri-Path "b" | Uri-Path "B0001"
    # | Content-Format 42 | 0xFF | payload
    assert data == bytes([0x42, 0x02, 0x12, 0x34, 0xAB, 0xCD, 0xB1]) + b"b" \
        + bytes([0x05]) + b"B0001" + bytes([0x11, 0x2A, 0xFF, 0x01, 0x02])


def test_decode_inverts_encode_with_long_options():
    msg = coap.Message(coap.NON, coap.PUT, 7, b"", [(11, b"x" * 300), (2000, b"")], b"hi")
    back = coap.decode(coap.encode(msg))
    assert back.mtype == coap.NON and back.code == coap.PUT and back.mid == 7
    assert back.options == [(11, b"x" * 300), (2000, b"")]
    assert back.payload == b"hi"


def test_malformed_datagrams_raise_coap_error():
    for bad in (b"", b"\x40\x01", b"\x80\x01\x00\x01", b"\x49\x01\x00\x01",
                b"\x42\x01\x00\x01\xaa", b"\x40\x01\x00\x01\xff", b"\x40\x01\x00\x01\xf0",
                b"\x40\x01\x00\x01\xd1"):
        try:
            coap.decode(bad)
        except coap.CoapError:
            continue
        raise AssertionError("accepted %r" % bad)


def test_confirmable_request_retransmits_with_doubling_timeouts_then_gives_up():
    ex = coap.Exchange(_request(), 0, 0)
    sends = []
    t = 0
    while not ex.done and t < 200000:
        if ex.poll(t) is not None:
            sends.append(t)
        t += 100
    assert sends == [0, 2000, 6000, 14000, 30000]
    assert ex.failed and ex.response is None


def test_first_timeout_is_randomised_within_rfc_bounds():
    assert coap.Exchange(_request(), 0, 255).timeout_ms == 3000
    assert coap.Exchange(_request(), 0, 0).timeout_ms == 2000


def test_piggybacked_ack_completes_exchange():
    ex = coap.Exchange(_request(), 0, 0)
    ex.poll(0)
    ack = coap.Message(coap.ACK, 0x44, 0x1234, b"\xab\xcd")
    assert ex.received(ack, 10) is None
    assert ex.done and ex.response.code == 0x44 and ex.failed is None


def test_separate_response_is_acknowledged():
    ex = coap.Exchange(_request(), 0, 0)
    ex.poll(0)
    ex.received(coap.Message(coap.ACK, coap.EMPTY, 0x1234), 10)
    assert not ex.done and ex.poll(5000) is None  # no retransmission once ACKed
    reply = ex.received(coap.Message(coap.CON, 0x44, 0x9999, b"\xab\xcd"), 6000)
    assert ex.done and ex.response.code == 0x44
    assert coap.decode(reply).mtype == coap.ACK and coap.decode(reply).mid == 0x9999


def test_response_with_wrong_token_is_ignored():
    ex = coap.Exchange(_request(), 0, 0)
    ex.poll(0)
    ex.received(coap.Message(coap.ACK, 0x44, 0x1234, b"\x00\x00"), 10)
    assert not ex.done


def test_non_confirmable_request_is_sent_once():
    ex = coap.Exchange(_request(coap.NON), 0, 0)
    assert ex.poll(0) is not None
    assert ex.done and ex.poll(5000) is None


def test_a_request_from_the_gateway_is_not_taken_for_the_answer():
    # Node requests carry an empty token; a request that happens to carry one
    # too (code class 0) must not complete the exchange, only a response can.
    req = coap.Message(coap.CON, coap.POST, 0x2222, b"", [(coap.OPT_URI_PATH, b"b")], b"\x01")
    ex = coap.Exchange(req, 0, 0)
    ex.poll(0)
    ex.received(coap.Message(coap.CON, coap.POST, 0x0BAD, b"", [(coap.OPT_URI_PATH, b"z")]), 5)
    assert not ex.done
    ex.received(coap.Message(coap.CON, 0x44, 0x0BAE, b""), 6)
    assert ex.done and ex.response.code == 0x44


def test_ack_timeout_and_retransmissions_are_parameters():
    ex = coap.Exchange(_request(), 0, 0, ack_timeout_ms=5000, max_retransmit=2)
    sends = []
    t = 0
    while not ex.done and t < 200000:
        if ex.poll(t) is not None:
            sends.append(t)
        t += 100
    assert sends == [0, 5000, 15000]
    assert ex.failed and not ex.answered


def test_a_held_transmission_is_not_counted_as_an_attempt():
    ex = coap.Exchange(_request(), 0, 0)
    assert ex.due(0)
    ex.hold(60000)
    assert not ex.due(59999) and ex.poll(59999) is None and ex.attempts == 0
    assert ex.poll(60000) is not None and ex.attempts == 1
    ex.hold(100)  # never earlier than the timer already says
    assert ex.next_ms == 62000


def test_any_answer_marks_the_exchange_answered():
    ex = coap.Exchange(_request(), 0, 0)
    ex.poll(0)
    ex.received(coap.Message(coap.RST, coap.EMPTY, 0x1234), 10)
    assert ex.done and ex.answered and ex.failed == "reset by peer"
