# Nodes speaking OSCORE with their gateway (firmware/net/uplink.py,
# firmware/net/secure.py, firmware/lighting/requests.py): every request
# protected, only verified answers taken, the gateway's Echo challenge
# answered, sequence numbers across deep sleep, the light node's /z protected.
# The gateway's side here is the node's own library with the ids swapped; the
# real gateway (aiocoap) is met in tests/sim/. MicroPython VM and CPython.
from fakehal import FakeHal, FakeStore, make_aes

from firmware import codec
from firmware import settings as config
from firmware.lighting import payload as light_codec
from firmware.lighting.node import LightNode
from firmware.oscore.context import Context
from firmware.oscore.message import OPT_OSCORE, Endpoint
from firmware.oscore.sequence import ReplayWindow, SenderSequence
from firmware.proto import coap
from firmware.waste.node import BinNode

KEY = "000102030405060708090a0b0c0d0e0f"
KID = "07"
OPT_ECHO = 252


def _cfg(role="bin", **extra):
    raw = {"id": "B1", "role": role, "gateway_host": "10.0.0.1", "key": KEY, "kid": KID,
           "empty_mm": 1000, "full_mm": 200, "threshold_pct": 75, "addr": 7}
    for k in extra:
        raw[k] = extra[k]
    return config.Config(raw)


class Gateway:
    """The gateway's end of the node's context."""

    def __init__(self, key=KEY):
        ctx = Context(make_aes, bytes.fromhex(key), None, b"", bytes.fromhex(KID))
        self.ep = Endpoint(ctx, SenderSequence(FakeStore()), ReplayWindow(FakeStore()))

    def open(self, data):
        """(the request inside, the Request to answer it with)."""
        return self.ep.unprotect_request(coap.decode(data))

    def answer(self, data, code=coap.CHANGED, options=None, payload=b""):
        req, request = self.open(data)
        msg = coap.Message(coap.ACK, code, req.mid, req.token, options or [], payload)
        return req, coap.encode(self.ep.protect_response(msg, request))

    def request(self, path, payload, mid=0x2000):
        msg = coap.Message(coap.CON, coap.POST, mid, b"\x01",
                           [(coap.OPT_URI_PATH, path.encode())], payload)
        protected, request = self.ep.protect_request(msg)
        return coap.encode(protected), request


def _bin_hal(**kw):
    hal = FakeHal(**kw)
    hal.outbox = FakeStore()
    return hal


def test_kid_is_checked_in_one_line():
    assert _cfg().kid == "07" and _cfg(kid="00A1").kid == "00a1"
    assert _cfg(kid="9F0A0B0C").kid == "9f0a0b0c"  # chosen by provisioning, gateway away
    for bad in ("7", "0x07", "070809", "0102030405", 7, "zz"):
        try:
            _cfg(kid=bad)
        except config.ConfigError as e:
            assert "kid must be 2, 4 or 8 hex digits" in str(e) and "\n" not in str(e)
        else:
            raise AssertionError(bad)
    try:
        config.Config({"id": "B1", "role": "bin", "gateway_host": "h", "kid": "07"})
    except config.ConfigError as e:
        assert "kid given without key" in str(e)
    else:
        raise AssertionError("kid without key")
    # Without a kid the node speaks as before, unprotected.
    hal = _bin_hal()
    node = BinNode(_cfg(kid=None), hal)
    node.wake()
    node.send()
    assert coap.decode(hal.net.sent[-1]).path() == "b/B1"


def test_a_bin_report_goes_protected_and_only_a_verified_answer_ends_it():
    hal = _bin_hal()
    gw = Gateway()
    node = BinNode(_cfg(), hal)
    assert node.wake()
    head = node.outbox.head()
    node.send()
    wire = hal.net.sent[-1]
    assert node.uplink.frame_len(head[0], head[1]) == len(wire) + 0  # next number: same size
    outer = coap.decode(wire)
    assert outer.option(OPT_OSCORE) is not None and outer.path() == ""
    # OSCORE: +13, and the 1-byte kid; no node id ("B1" and its option
    # header): the key names the node.
    assert len(wire) == 22 + 14 - 3
    # A forged or unprotected answer is ignored; the same bytes go again.
    hal.net.inbox.append(coap.encode(coap.Message(coap.ACK, coap.CHANGED, outer.mid)))
    hal.net.inbox.append(coap.encode(coap.Message(coap.ACK, 0x80, outer.mid, b"", None,
                                                  b"forged")))
    assert node.poll()
    assert len(node.outbox) == 1 and node.uplink.unverified == 2
    hal.clock.advance(3100)
    assert node.poll()
    assert hal.net.sent[-1] == wire
    req, answer = gw.answer(wire)
    assert req.path() == "b" and codec.decode_bin_report(req.payload).seq == node.seq
    hal.net.inbox.append(answer)
    assert not node.poll()
    assert len(node.outbox) == 0 and node.acked


def test_a_forged_refusal_never_drops_a_queued_fire_report():
    hal = _bin_hal(temp_c=90)
    node = BinNode(_cfg(), hal)
    assert node.wake()
    node.send()
    while node.poll():
        mid = coap.decode(hal.net.sent[-1]).mid
        hal.net.inbox.append(coap.encode(coap.Message(coap.ACK, 0x80, mid, b"", None,
                                                      b"bad report")))
        hal.clock.advance(500)
    assert len(node.outbox) == 1 and not node.refused
    assert codec.decode_bin_report(node.outbox.head()[1]).flags & codec.BIN_FLAG_FIRE
    node.sleep()
    # At the next wake the report goes again, protected anew (a new sequence
    # number), and the gateway takes it.
    first = hal.net.sent[0]
    hal.clock.advance(3600 * 1000)
    node = BinNode(_cfg(), hal)
    node.wake()
    node.send()
    again = hal.net.sent[-1]
    assert again != first
    gw = Gateway()
    answered = []
    while True:  # this wake's FIRE report follows the queued one
        wire = hal.net.sent[-1]
        if wire not in answered:
            answered.append(wire)
            hal.net.inbox.append(gw.answer(wire)[1])
        if not node.poll():
            break
        hal.clock.advance(100)
    assert len(node.acked) == 2 and len(node.outbox) == 0


def test_the_gateways_echo_challenge_is_answered_once():
    hal = _bin_hal()
    gw = Gateway()
    node = BinNode(_cfg(), hal)
    node.wake()
    node.send()
    first = hal.net.sent[-1]
    _, challenge = gw.answer(first, 0x81, [(OPT_ECHO, b"\x11" * 8)])
    hal.net.inbox.append(challenge)
    assert node.poll()
    repeat = hal.net.sent[-1]
    assert repeat != first and coap.decode(repeat).mid != coap.decode(first).mid
    req, _ = gw.open(repeat)
    assert req.option(OPT_ECHO) == b"\x11" * 8 and req.path() == "b"
    # A second challenge is not answered again: the report is refused.
    gw2 = Gateway()
    _, challenge = gw2.answer(repeat, 0x81, [(OPT_ECHO, b"\x22" * 8)])
    hal.net.inbox.append(challenge)
    assert not node.poll()
    assert node.refused and node.refused[0][1] == "4.01"


def test_sequence_numbers_survive_deep_sleep_in_rtc_memory_and_power_loss_in_flash():
    hal = _bin_hal()
    gw = Gateway()
    seen = []
    for _ in range(3):
        node = BinNode(_cfg(heartbeat_s=10), hal)
        if node.wake():
            node.send()
            wire = hal.net.sent[-1]
            req, answer = gw.answer(wire)
            seen.append(coap.decode(wire).option(OPT_OSCORE))
            hal.net.inbox.append(answer)
            assert not node.poll()
        node.sleep()
        hal.clock.advance(3600 * 1000)
    assert [o[1] for o in seen] == [0, 1, 2]  # Partial IVs 0, 1, 2: RTC memory exact
    bound = hal.flash["oscore_ssn"].data
    hal.store.data = b""  # power loss: RTC memory gone
    node = BinNode(_cfg(), hal)
    node.wake()
    node.send()
    opt = coap.decode(hal.net.sent[-1]).option(OPT_OSCORE)
    assert opt[1] == 64 and hal.flash["oscore_ssn"].data != bound  # resumes past the bound


def _light():
    hal = FakeHal()
    hal.settings = FakeStore()
    node = LightNode(_cfg("light", id="L7"), hal)
    return hal, node


def test_a_light_node_takes_its_profile_protected_only():
    hal, node = _light()
    gw = Gateway()
    profile = light_codec.encode_profile(light_codec.Profile(5, 30, 90, 45, 5, 20, 50, 10))
    # Unprotected: 4.01, nothing changes.
    hal.net.inbox.append(coap.encode(coap.Message(
        coap.CON, coap.POST, 0x1234, b"\x01", [(coap.OPT_URI_PATH, b"z")], profile)))
    node.poll()
    reply = coap.decode(hal.net.sent[-1])
    assert reply.code == 0x81 and node.profile.revision == 0 and hal.settings.data == b""
    # Protected with another key: refused unprotected, nothing changes.
    forged, _ = Gateway("ff" * 16).request("z", profile, 0x1235)
    hal.net.inbox.append(forged)
    node.poll()
    assert coap.decode(hal.net.sent[-1]).code in (0x80, 0x81) and node.profile.revision == 0
    # Protected with the node's context: applied, answered protected.
    data, request = gw.request("z", profile, 0x1236)
    hal.net.inbox.append(data)
    node.poll()
    answer = hal.net.sent[-1]
    inner = gw.ep.unprotect_response(coap.decode(answer), request)
    assert inner.code == coap.CHANGED and node.profile.revision == 5
    # A retransmission gets the same answer; a replay with another message id
    # is refused.
    hal.net.inbox.append(data)
    node.poll()
    assert hal.net.sent[-1] == answer
    hal.net.inbox.append(data[:2] + b"\x77\x77" + data[4:])
    node.poll()
    assert coap.decode(hal.net.sent[-1]).code == 0x81
    # An unprotected brighten command: ignored and counted, never answered
    # (tests/firmware/test_fw_zone_key.py has the protected ones).
    sent = len(hal.net.sent)
    hal.net.inbox.append(coap.encode(coap.Message(
        coap.CON, coap.POST, 0x1240, b"\x00\x09", [(coap.OPT_URI_PATH, b"c")],
        light_codec.encode_brighten(light_codec.Brighten(9, 100, 60, (7,))))))
    node.poll()
    assert node.cmd_level == 0 and node.commands_refused == 1 and len(hal.net.sent) == sent


def test_a_light_nodes_status_goes_protected():
    hal, node = _light()
    gw = Gateway()
    node._send_status(hal.clock.ms(), True)
    req, answer = gw.answer(hal.net.sent[-1])
    assert req.path() == "s"  # the key names the node
    hal.net.inbox.append(answer)
    node.poll()
    assert node.uplink.last_result[0] == "2.04"


def test_an_echo_challenge_to_a_presence_event_is_answered_once():
    hal, node = _light()
    gw = Gateway()
    hal.presence.trigger()
    node.poll()
    event = hal.net.sent[-1]
    req, request = gw.open(event)
    assert req.path() == "p" and req.mtype == coap.NON
    challenge = coap.Message(coap.NON, 0x81, 0x5000, b"", [(OPT_ECHO, b"\x33" * 8)])
    hal.net.inbox.append(coap.encode(gw.ep.protect_response(challenge, request)))
    node.poll()
    again, request = gw.open(hal.net.sent[-1])
    assert again.option(OPT_ECHO) == b"\x33" * 8 and again.payload == req.payload
    # A forged challenge is ignored; a second one is not answered.
    n = len(hal.net.sent)
    hal.net.inbox.append(coap.encode(challenge))
    challenge.mid += 1
    hal.net.inbox.append(coap.encode(gw.ep.protect_response(challenge, request)))
    node.poll()
    assert len(hal.net.sent) == n and node.uplink.unverified == 1
    assert any("(Echo)" in line for line in hal.lines)
