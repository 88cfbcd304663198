# A node's requests to the gateway over LoRa: the uplink of firmware/net/uplink.py
# with what LoRa adds. Every response carries the link feedback of
# firmware/lora/link.py: a response tagged for another node is a neighbour's
# and is ignored; the node's own sets its spreading factor and clock. With
# OSCORE the feedback is inside the protected answer and read only once it
# verifies (firmware/net/uplink.py): anyone can put a tag on the air. After
# BACKOFF_MISSES confirmable exchanges in a row got no answer at all, the node
# raises its spreading factor by one. The spreading factor and the misses
# survive deep sleep (link_state(), restore_link()). Made by the LoRa link
# (firmware/lora/net.py, LoraNet.uplink()).
import struct

from firmware.lora import link as lora_link
from firmware.lora import plan as radio_plan
from firmware.net.uplink import Uplink
from firmware.proto.payload import DecodeError

BACKOFF_MISSES = 2
_LINK = ">BB"  # link_state(): spreading factor (0: not set), misses in a row


class LoraUplink(Uplink):
    def __init__(self, node_id, hal, mid=None):
        Uplink.__init__(self, node_id, hal, mid)
        # The spreading factor (None: the net's own) and how many confirmable
        # exchanges in a row went unanswered.
        self.sf = None
        self.misses = 0
        self.tag = lora_link.node_tag(node_id)  # whose answer a response is

    def _lora(self):
        net = self.hal.net
        if self.sf is not None and net.sf != self.sf:
            net.set_sf(self.sf)
        return True

    def link_state(self):
        """Bytes to keep across deep sleep (2), for restore_link()."""
        return struct.pack(_LINK, self.sf or 0, min(self.misses, 255))

    def restore_link(self, data):
        """Take what link_state() gave before a deep sleep; ignores bytes
        that are not such (b"" at power-on)."""
        if len(data) != struct.calcsize(_LINK):
            return
        sf, misses = struct.unpack(_LINK, data)
        # The misses count even before any feedback set the SF (0): a node
        # that never hears its gateway still backs off across its wakes.
        self.misses = misses
        if radio_plan.SF_MIN <= sf <= radio_plan.SF_MAX:
            self.sf = sf
            self._lora()

    def _feedback(self, msg):
        """A response: True when it is this node's (and apply the feedback),
        False when it is a neighbour's or carries none."""
        try:
            fb = lora_link.decode_feedback(msg.payload)
        except DecodeError:
            return False
        if fb.tag != self.tag:
            return False
        self.misses = 0
        self.sf = fb.sf
        self.hal.net.set_sf(fb.sf)
        set_clock = getattr(self.hal.clock, "set", None)  # optional in the hal's contract
        if fb.time and set_clock is not None:
            set_clock(fb.time)
        return True

    def _missed(self):
        """A confirmable exchange got no answer at all."""
        self.misses += 1
        if self.misses >= BACKOFF_MISSES:
            self.misses = 0
            net = self.hal.net
            self.sf = min(radio_plan.SF_MAX, (self.sf or net.sf) + 1)
            net.set_sf(self.sf)
            self.hal.log("LoRa: %d exchanges unanswered, SF%d from now on"
                         % (BACKOFF_MISSES, self.sf))
