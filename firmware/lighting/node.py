# A light node: light ahead of everyone, and never more than needed.
#
# By night the lamp idles at the zone profile's idle level; on its own
# detection it starts the fast ramp to the active level at once, before any
# message is sent, holds it hold_s after the last detection and then ramps
# slowly back to idle. By day it is dark. The gateway can brighten it (POST /c,
# for the poles ahead of someone) and give it its zone profile (POST /z, kept
# in flash). Without word from the gateway for offline_after_min it runs the
# safe profile: the same, on its own sensor, with the higher safe idle level.
# It never goes dark at night for want of a link: night comes from its own
# light sensor or from the sun's times for its place, and when it cannot know
# (no sensor, clock not set) the lamp stays on. Every status_interval_s it
# reports its level, flags and energy (POST /s/<id>): NON, or CON when it
# has heard nothing from the gateway for a third of the offline time.
#
# Over LoRa the channel is shared with a thousand bins and a frame at SF12
# lasts over a second: an unacknowledged status would be lost to a collision
# one time in four, so every status is confirmable (the gateway's answer is
# cheap at the downlink's lower SF). Presence goes as counts: one event per
# LORA_EVENT_SHARE of the node's duty budget at most, the detections between
# added up (presence is counted, and the lamp's decision is local anyway).
#
# hal (firmware/hal/__init__.py): clock, net, led, presence; optional
# `settings` (flash, for the profile) and `ambient` (lux sensor).
from firmware.lighting import astro, contact
from firmware.lighting import payload as light_codec
from firmware.lighting.lamp import Lamp
from firmware.lighting.requests import handle
from firmware.net import secure
from firmware.proto.paths import PRESENCE_PATH, STATUS_PATH

# Detections closer together than this are counted into one event, so that a
# person standing under a pole does not flood the radio.
MIN_EVENT_GAP_MS = 1000
ASTRO_CHECK_MS = 60000  # how often the sun's times are looked at
LUX_CHECK_MS = 15000  # how often the light sensor is read
LUX_CONFIRM = 4  # readings in a row past a threshold to switch (headlights, shadows)
RECENT_COMMANDS = 8  # brighten command ids remembered, each applied once
LORA_OFFLINE_MS = 3600000  # gateway taken as away over LoRa (see offline_ms)
# Presence events over LoRa use at most a quarter of the 1 % duty cycle: the
# gap after an event is 400 times its airtime (20 s at SF7, 8 min at SF12).
LORA_EVENT_GAP_FACTOR = 400
STATUS_RETRY_MS = 10000  # a status waits this long for a confirmable exchange to end


class LightNode:
    def __init__(self, cfg, hal):
        self.cfg = cfg
        self.hal = hal
        now = hal.clock.ms()
        self.uplink = hal.net.uplink(cfg.node_id, hal)  # the link's own (LoRa: its feedback)
        self.uplink.on_request = self._request
        # With a key and a kid: its exchanges with the gateway protected
        # (OSCORE), and the gateway's requests verified (a replay window).
        if secure.wanted(cfg, hal.net):
            self.uplink.oscore = secure.endpoint(cfg, hal, requests=True)
        self.last_answer = None  # (mid, ciphertext, answer) of the last protected request
        # The zone key (gid, key) from the last protected profile push, and the
        # endpoint that verifies the gateway's group commands with it.
        self.zone_key = None
        self.zone = None
        self.commands_refused = 0  # /c not verified: forged, replayed, another zone's
        self.noted_ms = self.uplink.heard_ms  # start-up is no word from the gateway
        self.seq = hal.random_bits(16)
        self.status_seq = hal.random_bits(16)
        self.settings = getattr(hal, "settings", None)
        self.ambient = getattr(hal, "ambient", None)
        self.profile = self._stored_profile() or light_codec.Profile(
            0, cfg.idle_pct, cfg.active_pct, cfg.hold_s, cfg.ramp_up_ds, cfg.ramp_down_s,
            cfg.safe_idle_pct, cfg.offline_after_min)
        self.hold_until_ms = now  # own detections
        self.cmd_level = 0  # the gateway's brighten command ...
        self.cmd_until_ms = now  # ... and until when it holds
        self.commands = []  # ids of the brighten commands applied lately
        self.pending = 0  # detections not yet reported
        self.flags = 0  # presence flags of the latest detection
        self.last_event_ms = None
        self.event_gap_ms = MIN_EVENT_GAP_MS
        self.events_sent = 0
        self.status_sent = 0
        self.night = None  # True, False, or None: not known, so lit
        self.lux = None
        self.flip = 0
        self.check_ms = now
        self.asked_ms = now  # when a confirmable status last went out
        # Spread the poles' status reports (after a power cut they all start).
        self.status_ms = now + hal.random_bits(10) * cfg.status_interval_s
        self.ramp_tick_ms = 100  # next_deadline_ms() while a ramp runs
        self._check_night(now)
        # At power-on the lamp goes straight to its level, no ramp.
        self.lamp = Lamp(now, self._target(now), cfg.gamma)
        self._ramps()
        self.out = -1.0  # the level last given to the lamp
        self._drive(now)

    def _stored_profile(self):
        if self.settings:
            try:
                raw, zone_key = light_codec.split_profile_push(self.settings.load())
                profile = light_codec.decode_profile(raw)
            except ValueError:
                return None  # none stored yet, or from other firmware
            if zone_key is not None:
                self._set_zone_key(zone_key)
            return profile
        return None

    def _set_zone_key(self, zone_key):
        gid, key = zone_key
        self.zone = secure.zone_endpoint(self.hal, gid, key)
        self.zone_key = (bytes(gid), bytes(key))

    def _ramps(self):
        p = self.profile
        self.lamp.ramps(p.ramp_up_ds * 100, p.ramp_down_s * 1000, p.idle_pct, p.active_pct)

    # --- what the lamp should do -----------------------------------------
    def offline_ms(self):
        # Over LoRa a node hears the gateway only in its answers, and every
        # answer costs the gateway's 10 % downlink budget: a pole asks at most
        # every 20 minutes, and takes the gateway as away after an hour.
        off = self.profile.offline_after_min * 60000
        if self.hal.net.is_lora and off < LORA_OFFLINE_MS:
            return LORA_OFFLINE_MS
        return off

    def offline(self, now):
        return now - self.uplink.heard_ms >= self.offline_ms()

    def _target(self, now):
        if self.night is False:
            return 0
        p = self.profile
        t = p.safe_idle_pct if self.offline(now) else p.idle_pct
        if now < self.hold_until_ms:
            t = max(t, p.active_pct)
        if now < self.cmd_until_ms:
            t = max(t, self.cmd_level)
        return t

    def _drive(self, now):
        target = self._target(now)
        if target != self.lamp.target:
            self.lamp.aim(now, target)
        level = self.lamp.at(now)
        if level != self.out:
            self.out = level
            self.hal.led.set_pct(level)

    def _check_night(self, now):
        cfg = self.cfg
        lux = self.lux = self.ambient.lux() if self.ambient else None
        if lux is not None:
            self.check_ms = now + LUX_CHECK_MS
            if self.night is None:
                self.night = lux <= cfg.lux_off
            elif (lux > cfg.lux_off) if self.night else (lux < cfg.lux_on):
                self.flip += 1
                if self.flip >= LUX_CONFIRM:
                    self.night = not self.night
                    self.flip = 0
            else:
                self.flip = 0
            return
        self.check_ms = now + ASTRO_CHECK_MS
        t = self.hal.clock.time()
        if cfg.lat is None or not t:
            self.night = None
        else:
            self.night = astro.is_dark(cfg.lat, cfg.lon, t, dusk_offset_s=cfg.dusk_offset_min * 60,
                                       dawn_offset_s=cfg.dawn_offset_min * 60)

    # --- the loop ----------------------------------------------------------
    def poll(self):
        """Call often (every few tens of ms)."""
        now = self.hal.clock.ms()
        self.uplink.poll()  # requests from the gateway are applied in here
        # For the technician's self-test: when the gateway was last heard.
        self.noted_ms = contact.heard(self.hal, self.uplink.heard_ms, self.noted_ms)
        hit = self.hal.presence.triggered()
        if hit:
            self.hold_until_ms = now + int(self.profile.hold_s * 1000)
            self.pending += 1
            self.flags = int(hit)  # True from a plain sensor: PIR
        if now >= self.check_ms:
            self._check_night(now)
        self._drive(now)  # the ramp starts before anything is sent
        if self.pending and (self.last_event_ms is None
                             or now - self.last_event_ms >= self.event_gap_ms):
            self._send_event(now)
        if now >= self.status_ms:
            self._send_status(now)
        # Heard nothing for a third of the offline time: the status goes
        # confirmable, and the gateway's answer says it is there.
        quiet = self.offline_ms() // 3
        if not self.uplink.busy() and now >= max(self.uplink.heard_ms, self.asked_ms) + quiet:
            self.asked_ms = now
            self._send_status(now, True)

    def _send_event(self, now):
        self.seq = (self.seq + 1) & 0xFFFF
        speed = getattr(self.hal.presence, "speed", 0)
        event = light_codec.PresenceEvent(self.seq, self.hal.clock.time(), self.pending,
                                    int(self.lamp.target), speed / 10 if speed else None,
                                    self.flags)
        payload = light_codec.encode_presence(event)
        self.uplink.post_non_confirmable(PRESENCE_PATH, payload)
        self.pending = 0
        self.last_event_ms = now
        net = self.hal.net
        if net.is_lora:
            air = net.airtime_ms(self.uplink.frame_len(PRESENCE_PATH, payload))
            self.event_gap_ms = max(MIN_EVENT_GAP_MS, air * LORA_EVENT_GAP_FACTOR)
        self.events_sent += 1

    def energy_dwh(self):
        """Tenths of a watt-hour used since power-on: rated power times the
        lamp's output over time (integers: a float would lose the steps)."""
        return int(self.cfg.lamp_w * 10) * self.lamp.pct_ms // 360000000

    def status(self, now):
        flags = 0 if self.night is False else light_codec.STATUS_NIGHT
        if self.offline(now):
            flags |= light_codec.STATUS_OFFLINE
        self.status_seq = (self.status_seq + 1) & 0xFFFF
        return light_codec.Status(self.status_seq, self.hal.clock.time(), int(self.out + 0.5),
                                  self.energy_dwh(), flags, self.lux)

    def _send_status(self, now, confirm=False):
        lora = self.hal.net.is_lora
        if lora and self.uplink.busy():
            # One exchange at a time: the status follows the current one.
            self.status_ms = now + STATUS_RETRY_MS
            return
        self.status_ms = now + self.cfg.status_interval_s * 1000
        payload = light_codec.encode_status(self.status(now))
        if confirm or lora:
            self.uplink.post_confirmable(STATUS_PATH, payload)
        else:
            self.uplink.post_non_confirmable(STATUS_PATH, payload)
        self.status_sent += 1

    # --- from the gateway --------------------------------------------------
    def _request(self, msg):
        return handle(self, msg)

    def brighten(self, cmd):
        """Apply a brighten command meant for this pole, each id once."""
        if not cmd.applies_to(self.cfg.addr) or cmd.command_id in self.commands:
            return
        self.commands = [cmd.command_id] + self.commands[:RECENT_COMMANDS - 1]
        now = self.hal.clock.ms()
        self.cmd_level = cmd.level_pct
        self.cmd_until_ms = now + cmd.hold_s * 1000
        self._drive(now)

    def set_profile(self, profile, raw, zone_key=None):
        """Run the zone profile from now on, and after a reboot too. zone_key:
        (gid, key) from a push protected with the node's own context: the
        gateway's group commands are verified with it from now on (the key it
        replaces is not accepted any more)."""
        if zone_key is not None and zone_key != self.zone_key:
            self._set_zone_key(zone_key)
        raw = bytes(raw[:light_codec.PROFILE_SIZE])
        if self.zone_key is not None:
            raw += light_codec.encode_zone_key(*self.zone_key)
        if self.settings and self.settings.load() != raw:
            self.settings.save(raw)
        self.profile = profile
        self._ramps()
        self._drive(self.hal.clock.ms())

    def next_deadline_ms(self):
        """The next time poll() has work even without a detection or a
        datagram (the simulator's schedule; a real node just polls)."""
        now = self.hal.clock.ms()
        d = [self.check_ms, self.status_ms]
        left = self.lamp.remaining_ms()
        if left:
            d.append(now + min(left, self.ramp_tick_ms))
        for t in (self.hold_until_ms, self.cmd_until_ms):
            if t > now:
                d.append(t)
        if self.pending and self.last_event_ms is not None:
            d.append(self.last_event_ms + self.event_gap_ms)
        off = self.offline_ms()
        heard = self.uplink.heard_ms
        if now - heard < off:
            d.append(heard + off)  # the safe profile begins
        u = self.uplink.next_deadline_ms()
        if u is not None:
            d.append(u)
        elif not self.uplink.busy():
            d.append(max(heard, self.asked_ms) + off // 3)
        return min(d)
