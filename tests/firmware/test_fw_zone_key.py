# Brighten commands protected with the zone's key (firmware/oscore/group.py,
# firmware/lighting/requests.py): the key comes inside the pole's own
# protected profile push; a group command verifies, is applied once and never
# answered; unprotected, forged, replayed, another zone's, or anything but a
# brighten under the zone key changes nothing and is counted. The gateway's
# side here is the node's own library (aiocoap's is met in tests/security).
# MicroPython VM and CPython.
from fakehal import FakeHal, FakeStore, make_aes

from firmware import settings as config
from firmware.lighting import payload as light_codec
from firmware.lighting.node import LightNode
from firmware.oscore.context import Context
from firmware.oscore.group import GroupContext, KeyedStore
from firmware.oscore.message import Endpoint, parse_option
from firmware.oscore.sequence import ReplayWindow, SenderSequence
from firmware.proto import coap

KEY = "000102030405060708090a0b0c0d0e0f"
KID = "07"
ZONE_KEY = bytes(range(0x40, 0x50))
GID = b"\x03"
PROFILE = light_codec.Profile(5, 30, 90, 45, 5, 20, 50, 10)


def _cfg():
    return config.Config({"id": "L7", "role": "light", "gateway_host": "10.0.0.1",
                          "key": KEY, "kid": KID, "addr": 7})


class Gateway:
    """The gateway's end of the pole's own context (its profile pushes)."""

    def __init__(self):
        ctx = Context(make_aes, bytes.fromhex(KEY), None, b"", bytes.fromhex(KID))
        self.ep = Endpoint(ctx, SenderSequence(FakeStore()), ReplayWindow(FakeStore()))
        self.mid = 0x3000

    def push(self, payload):
        self.mid += 1
        msg = coap.Message(coap.CON, coap.POST, self.mid, b"\x01",
                           [(coap.OPT_URI_PATH, b"z")], payload)
        return coap.encode(self.ep.protect_request(msg)[0])


class ZoneSender:
    """The gateway as the zone key's one sender: Sender ID empty, the gid as
    ID Context (in the option as kid context)."""

    def __init__(self, key=ZONE_KEY, gid=GID):
        ctx = Context(make_aes, key, None, b"", b"\xff", gid)
        self.ep = Endpoint(ctx, SenderSequence(FakeStore()))
        self.mid = 0x5000

    def request(self, payload, path=b"c", mtype=coap.NON):
        self.mid += 1
        msg = coap.Message(mtype, coap.POST, self.mid, b"",
                           [(coap.OPT_URI_PATH, path)], payload)
        return coap.encode(self.ep.protect_request(msg)[0])


def _brighten(cid, level=100, targets=(7,)):
    return light_codec.encode_brighten(light_codec.Brighten(cid, level, 60, targets))


def _keyed():
    hal = FakeHal()
    hal.settings = FakeStore()
    node = LightNode(_cfg(), hal)
    gw = Gateway()
    hal.net.inbox.append(gw.push(light_codec.encode_profile(PROFILE)
                                 + light_codec.encode_zone_key(GID, ZONE_KEY)))
    node.poll()
    assert coap.decode(hal.net.sent[-1]).mtype == coap.ACK
    return hal, node, gw


def _deliver(hal, node, data):
    sent = len(hal.net.sent)
    before = node.commands_refused
    hal.net.inbox.append(data)
    node.poll()
    assert len(hal.net.sent) == sent, "a group request is never answered"
    return node.commands_refused - before


def test_the_zone_key_comes_with_the_protected_profile_and_survives_a_reboot():
    hal, node, gw = _keyed()
    assert node.profile == PROFILE and node.zone_key == (GID, ZONE_KEY)
    assert hal.settings.data[11:] == light_codec.encode_zone_key(GID, ZONE_KEY)
    # A push without the key (an older gateway) keeps the key the pole has.
    hal.net.inbox.append(gw.push(light_codec.encode_profile(PROFILE)))
    node.poll()
    assert node.zone_key == (GID, ZONE_KEY)
    again = LightNode(_cfg(), hal)  # power loss: flash is what remains
    assert again.zone_key == (GID, ZONE_KEY) and again.profile == PROFILE
    assert _deliver(hal, again, ZoneSender().request(_brighten(1))) == 0
    assert again.cmd_level == 100


def test_a_group_command_is_applied_once_and_never_answered():
    hal, node, _ = _keyed()
    zone = ZoneSender()
    frame = zone.request(_brighten(11, 80, (3, 7, 9)))
    assert _deliver(hal, node, frame) == 0 and node.cmd_level == 80
    # Not among the targets: verified, not applied.
    assert _deliver(hal, node, zone.request(_brighten(12, 90, (3, 9)))) == 0
    assert node.cmd_level == 80
    # The OSCORE option: flags h, k and n = 1, Partial IV, gid, empty kid.
    piv, kid, gid = parse_option(coap.decode(frame).option(9))
    assert (kid, gid) == (b"", GID) and coap.decode(frame).option(9)[0] == 0x19


def test_unprotected_forged_replayed_and_other_zone_commands_change_nothing():
    hal, node, _ = _keyed()
    plain = coap.encode(coap.Message(coap.CON, coap.POST, 0x1240, b"\x00\x09",
                                     [(coap.OPT_URI_PATH, b"c")], _brighten(9)))
    assert _deliver(hal, node, plain) == 1
    assert _deliver(hal, node, ZoneSender(bytes(16)).request(_brighten(10))) == 1
    other = ZoneSender(bytes(range(16)), b"\x04")  # another zone: its own gid and key
    assert _deliver(hal, node, other.request(_brighten(13))) == 1
    stolen_gid = ZoneSender(bytes(range(16)), GID)  # another zone's key under this gid
    assert _deliver(hal, node, stolen_gid.request(_brighten(14))) == 1
    assert node.cmd_level == 0
    zone = ZoneSender()
    frame = zone.request(_brighten(15))
    assert _deliver(hal, node, frame) == 0 and node.cmd_level == 100
    node.cmd_level = 0
    # The same frame again, and with another message id and command id
    # bytes left as they were: the replay window refuses both.
    assert _deliver(hal, node, frame) == 1
    assert _deliver(hal, node, frame[:2] + b"\x77\x77" + frame[4:]) == 1
    # Cut short, a flipped bit: refused.
    assert _deliver(hal, node, frame[:-1]) == 1
    assert _deliver(hal, node, frame[:-1] + bytes((frame[-1] ^ 1,))) == 1
    assert node.cmd_level == 0


def test_the_zone_key_brightens_only():
    hal, node, _ = _keyed()
    zone = ZoneSender()
    dark = light_codec.encode_profile(light_codec.Profile(9, 0, 0, 0, 5, 20, 0, 10))
    assert _deliver(hal, node, zone.request(dark, b"z", coap.CON)) == 1
    assert node.profile == PROFILE
    assert _deliver(hal, node, zone.request(b"\x01\x02", b"c")) == 1  # undecodable
    assert _deliver(hal, node, zone.request(_brighten(20), b"c", coap.CON)) == 0
    assert node.cmd_level == 100


def test_a_new_zone_key_replaces_the_old_one():
    hal, node, gw = _keyed()
    old = ZoneSender()
    new_key, new_gid = bytes(range(0x60, 0x70)), b"\x04"
    hal.net.inbox.append(gw.push(light_codec.encode_profile(PROFILE)
                                 + light_codec.encode_zone_key(new_gid, new_key)))
    node.poll()
    assert node.zone_key == (new_gid, new_key)
    assert _deliver(hal, node, old.request(_brighten(30))) == 1 and node.cmd_level == 0
    assert _deliver(hal, node, ZoneSender(new_key, new_gid).request(_brighten(31))) == 0
    assert node.cmd_level == 100


def test_the_window_survives_power_loss_and_counts_for_its_key_only():
    hal, node, _ = _keyed()
    zone = ZoneSender()
    frames = [zone.request(_brighten(40 + i)) for i in range(3)]
    for f in frames:
        assert _deliver(hal, node, f) == 0
    again = LightNode(_cfg(), hal)
    for f in frames:
        assert _deliver(hal, again, f) == 1
    # The window's bound in flash is tagged with the key: under another key
    # it reads as nothing.
    store = FakeStore()
    tagged = KeyedStore(store, b"\x01\x03abcd")
    tagged.save(b"\x5f123456")
    assert tagged.load() == b"\x5f123456"
    assert KeyedStore(store, b"\x01\x04abcd").load() == b""


def test_a_key_in_an_unprotected_push_is_never_taken():
    hal = FakeHal()
    hal.settings = FakeStore()
    node = LightNode(config.Config({"id": "L7", "role": "light",
                                    "gateway_host": "10.0.0.1", "addr": 7}), hal)
    payload = light_codec.encode_profile(PROFILE) + light_codec.encode_zone_key(GID, ZONE_KEY)
    hal.net.inbox.append(coap.encode(coap.Message(
        coap.CON, coap.POST, 0x1300, b"\x01", [(coap.OPT_URI_PATH, b"z")], payload)))
    node.poll()
    assert node.profile == PROFILE and node.zone_key is None
    assert hal.settings.data == light_codec.encode_profile(PROFILE)
    # A pole without any key takes a plain /c as before, and no group frame.
    assert _deliver(hal, node, ZoneSender().request(_brighten(50))) == 1
    hal.net.inbox.append(coap.encode(coap.Message(
        coap.NON, coap.POST, 0x1301, b"", [(coap.OPT_URI_PATH, b"c")], _brighten(51))))
    node.poll()
    assert node.cmd_level == 100


def test_group_context_keys_follow_rfc_8613_derivation_with_the_gid():
    ctx = GroupContext(make_aes, ZONE_KEY, GID)
    sender = Context(make_aes, ZONE_KEY, None, b"", b"\xff", GID)
    assert ctx.recipient_key == sender.sender_key and ctx.common_iv == sender.common_iv
    assert ctx.nonce(b"", b"\x05") == sender.nonce(b"", b"\x05")
    for bad in ((ZONE_KEY, b""), (ZONE_KEY, b"12345"), (ZONE_KEY[:15], GID)):
        try:
            GroupContext(make_aes, bad[0], bad[1])
        except ValueError:
            pass
        else:
            raise AssertionError(bad)


def test_a_keyed_pole_on_lora_takes_protected_commands_only_as_on_wifi():
    from fakehal import FakeModem

    from firmware.lora.net import LoraNet

    hal = FakeHal()
    hal.settings = FakeStore()
    hal.net = LoraNet(FakeModem(), "L7", hal.clock, hal.log)
    node = LightNode(_cfg(), hal)
    assert node.uplink.oscore is not None and node.zone is None
    # Before its zone key came over the air: an unprotected /c changes nothing.
    plain = coap.Message(coap.NON, coap.POST, 0x1400, b"", [(coap.OPT_URI_PATH, b"c")],
                         _brighten(60))
    assert node._request(plain) is None and node.cmd_level == 0
    assert node.commands_refused == 1
    # With its zone key (pushed over LoRa): protected ones only.
    node.set_profile(PROFILE, light_codec.encode_profile(PROFILE), (GID, ZONE_KEY))
    plain = coap.Message(coap.NON, coap.POST, 0x1401, b"", [(coap.OPT_URI_PATH, b"c")],
                         _brighten(61))
    assert node._request(plain) is None and node.cmd_level == 0
    assert node.commands_refused == 2
    assert node._request(coap.decode(ZoneSender().request(_brighten(62)))) is None
    assert node.cmd_level == 100
