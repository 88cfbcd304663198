# A light node: its lamp idles at a low level; on a detection it goes to the
# active level at once, on its own, and tells the gateway with a
# non-confirmable presence event (a lost event must never delay the light).
# After the hold time without detections it returns to idle.
from firmware import codec
from firmware.messaging import PRESENCE_PATH, Uplink

# Detections closer together than this are counted into one event, so that a
# person standing under a pole does not flood the radio.
MIN_EVENT_GAP_MS = 1000


class LightNode:
    def __init__(self, cfg, hal):
        self.cfg = cfg
        self.hal = hal
        self.uplink = Uplink(cfg.node_id, hal)
        self.seq = hal.random_bits(16)
        self.level = -1  # not yet driven
        self.hold_until_ms = 0
        self.pending = 0  # detections not yet reported
        self.last_event_ms = None
        self.events_sent = 0
        self.set_level(cfg.idle_pct)

    def set_level(self, pct):
        if pct != self.level:
            self.level = pct
            self.hal.led.set_pct(pct)

    def poll(self):
        """Call often (every few tens of ms)."""
        now = self.hal.clock.ms()
        if self.hal.presence.triggered():
            self.set_level(self.cfg.active_pct)
            self.hold_until_ms = now + int(self.cfg.hold_s * 1000)
            self.pending += 1
        if self.pending and (self.last_event_ms is None
                             or now - self.last_event_ms >= MIN_EVENT_GAP_MS):
            self._send_event(now)
        if self.level != self.cfg.idle_pct and now >= self.hold_until_ms:
            self.set_level(self.cfg.idle_pct)
        self.uplink.poll()

    def _send_event(self, now):
        self.seq = (self.seq + 1) & 0xFFFF
        event = codec.PresenceEvent(self.seq, self.hal.clock.time(), self.pending,
                                    int(self.level), None, codec.PRESENCE_SOURCE_PIR)
        self.uplink.post_non_confirmable(PRESENCE_PATH, codec.encode_presence(event))
        self.pending = 0
        self.last_event_ms = now
        self.events_sent += 1

    def next_deadline_ms(self):
        """The next time poll() has work even without a detection."""
        deadlines = []
        if self.level != self.cfg.idle_pct:
            deadlines.append(self.hold_until_ms)
        if self.pending and self.last_event_ms is not None:
            deadlines.append(self.last_event_ms + MIN_EVENT_GAP_MS)
        d = self.uplink.next_deadline_ms()
        if d is not None:
            deadlines.append(d)
        return min(deadlines) if deadlines else None
