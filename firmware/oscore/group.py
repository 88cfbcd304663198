# A group key for requests one sender makes to many receivers in one frame:
# the gateway's Brighten commands to the poles of a zone (POST /c).
#
# Shaped as Group OSCORE's group mode (draft-ietf-core-oscore-groupcomm)
# without its signature: a 64-byte countersignature would more than double a
# LoRa frame, and a pole checking an Ed25519 signature in MicroPython is out of
# reach. Everything else is RFC 8613 as the node's own context has it: the
# zone key is the Master Secret, the group's identifier (gid) the ID Context,
# the gateway's Sender ID is empty, keys and Common IV come from HKDF-SHA256
# over the same info (section 3.2), the nonce is section 5.2's, the AEAD
# AES-CCM-16-64-128. The receivers never send with it: this end only
# verifies (and with Endpoint.unprotect_request, checks a replay window).
#
# What that gives up against full Group OSCORE: source authentication inside
# the group. Anyone holding the key -- the gateway and every pole of the zone
# -- can make a frame the others accept; docs/security.md says why that is
# acceptable for a brighten command and nothing else is taken with this key.
from firmware.oscore.ccm import KEY_LEN, NONCE_LEN
from firmware.oscore.context import MAX_ID_LEN, Context, derive

MAX_GID_LEN = 4  # the gid travels in every group frame: short


class GroupContext(Context):
    """The receiving end of a group key: the sender's (the gateway's) key and
    the Common IV, for group `gid`. aes as in Context."""

    def __init__(self, aes, group_key, gid, sender_id=b""):
        gid = bytes(gid)
        sender_id = bytes(sender_id)
        if not 1 <= len(gid) <= MAX_GID_LEN:
            raise ValueError("a gid is 1 to %d bytes" % MAX_GID_LEN)
        if len(group_key) != KEY_LEN or len(sender_id) > MAX_ID_LEN:
            raise ValueError("a group key is %d bytes" % KEY_LEN)
        self.sender_id = None  # this end never sends with the group key
        self.recipient_id = sender_id
        self.id_context = gid
        self.sender_key = None
        self.sender_cipher = None
        self.recipient_key = derive(group_key, None, sender_id, gid, "Key", KEY_LEN)
        self.common_iv = derive(group_key, None, b"", gid, "IV", NONCE_LEN)
        self.recipient_cipher = aes(self.recipient_key)


class KeyedStore:
    """A flash store (load() -> bytes, save(bytes)) whose contents count only
    for one key: what was saved under another key loads as nothing. A replay
    window kept in it starts afresh with a new key and never goes back under
    an old one, whatever a power loss interrupted."""

    def __init__(self, store, tag):
        self.store = store
        self.tag = bytes(tag)

    def load(self):
        data = bytes(self.store.load() or b"")
        n = len(self.tag)
        return data[n:] if data[:n] == self.tag else b""

    def save(self, data):
        self.store.save(self.tag + bytes(data))
