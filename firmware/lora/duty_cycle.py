# EU868 duty-cycle accounting (ETSI EN 300 220): each sub-band allows only a
# share of every hour on air. Nodes, the radio bridge and the gateway's
# downlink scheduler all account their own transmissions with this, each in
# its own millisecond clock.
#
# A frame of airtime `a` may start at `now` only if the airtime of the
# recorded transmissions that end after `now - WINDOW_MS`, plus `a`, fits the
# sub-band's limit. Checked at the start of every frame, this bounds every
# sliding hour: the last frame starting in any hour saw all the others of that
# hour counted.
import struct

from firmware.lora import plan as radio_plan

# Waiting this long means never: a frequency outside the plan, or a frame
# longer than a whole hour's budget.
NEVER = 1 << 30

_HEAD = ">BB"  # layout tag, entry count
_ENTRY = ">BiI"  # sub-band, end relative to the dump (ms), airtime (ms)
_LAYOUT = 0xD1


class DutyCycle:
    WINDOW_MS = 3600000

    def __init__(self, max_entries=16):
        self.max_entries = max(2, max_entries)  # per sub-band
        # sub-band index -> [[end_ms, airtime_ms], ...] in the order recorded
        self.bands = {}

    def _live(self, band, now_ms):
        since = now_ms - self.WINDOW_MS
        return [e for e in self.bands.get(band, ()) if e[0] > since]

    def used_ms(self, freq_khz, now_ms):
        """Airtime counted against the frequency's sub-band in the last hour."""
        try:
            band = radio_plan.sub_band(freq_khz)
        except ValueError:
            return 0
        return sum(e[1] for e in self._live(band, now_ms))

    def wait_ms(self, freq_khz, airtime_ms, now_ms):
        """0 when a frame of airtime_ms may start now, else how long to wait
        (NEVER outside the radio plan)."""
        try:
            band = radio_plan.sub_band(freq_khz)
            limit = self.WINDOW_MS // radio_plan.duty_divisor(freq_khz)
        except ValueError:
            return NEVER
        if airtime_ms > limit:
            return NEVER
        live = self._live(band, now_ms)
        used = sum(e[1] for e in live)
        if used + airtime_ms <= limit:
            return 0
        # Transmissions leave the window in the order they ended.
        for end, air in sorted(live, key=lambda e: e[0]):
            used -= air
            if used + airtime_ms <= limit:
                return end + self.WINDOW_MS - now_ms
        return NEVER  # not reached: with all gone, airtime_ms <= limit fits

    def record(self, freq_khz, airtime_ms, now_ms):
        """A transmission of airtime_ms starting at now_ms."""
        band = radio_plan.sub_band(freq_khz)
        live = self._live(band, now_ms)
        live.append([now_ms + airtime_ms, airtime_ms])
        self.bands[band] = live
        self._squeeze(live)

    def _squeeze(self, entries):
        # Over the limit, neighbours whose ends fall in the same slot of
        # WINDOW_MS / (max_entries - 1) become one that ends with the later of
        # them and holds both airtimes. It only ever counts more, and for at
        # most one slot longer, so a busy transmitter's record still empties
        # as the hour passes (merging across slots would keep a growing sum
        # alive for ever). An hour's live entries touch at most
        # max_entries + 1 slots, which bounds the list.
        if len(entries) <= self.max_entries:
            return
        slot = self.WINDOW_MS // (self.max_entries - 1)
        entries.sort(key=lambda e: e[0])
        i = 0
        while len(entries) > self.max_entries and i < len(entries) - 1:
            a, b = entries[i], entries[i + 1]
            if a[0] // slot == b[0] // slot:
                entries[i] = [b[0], a[1] + b[1]]
                del entries[i + 1]
            else:
                i += 1

    def dump(self, now_ms):
        """Compact bytes, ages relative to now_ms, for memory that outlives
        the clock (RTC memory across deep sleep)."""
        rows = []
        for band in sorted(self.bands):
            for end, air in self._live(band, now_ms):
                rows.append(struct.pack(_ENTRY, band, end - now_ms, air))
        return struct.pack(_HEAD, _LAYOUT, len(rows)) + b"".join(rows)

    @staticmethod
    def load(data, now_ms, slept_ms=0, max_entries=16):
        """Restore a dump made slept_ms before now_ms. More time may really
        have passed: that only makes the record look younger (conservative).
        Bytes that are no dump (b"" at power-on) give an empty record."""
        dc = DutyCycle(max_entries)
        head = struct.calcsize(_HEAD)
        size = struct.calcsize(_ENTRY)
        if len(data) < head:
            return dc
        tag, n = struct.unpack(_HEAD, data[:head])
        if tag != _LAYOUT or len(data) != head + n * size:
            return dc
        since = now_ms - DutyCycle.WINDOW_MS
        for i in range(n):
            band, rel, air = struct.unpack(_ENTRY, data[head + i * size:head + (i + 1) * size])
            end = now_ms + rel - slept_ms
            if band < len(radio_plan.SUB_BANDS) and end > since:
                dc.bands.setdefault(band, []).append([end, air])
        for entries in dc.bands.values():
            dc._squeeze(entries)
        return dc
