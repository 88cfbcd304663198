# A PIR motion sensor's digital output (HC-SR501, AM312 and the like), polled.
# Its output goes high while it sees motion and, in retrigger mode, stays high
# while the motion goes on. A level must stay high for the debounce time to
# count (a spike on a long cable is not a person); a new detection is
# reported at once and, while the output stays high, again every retrigger
# time, so that someone lingering under the pole keeps the light.
PIR = 0x01  # firmware/proto/presence.py PRESENCE_SOURCE_PIR


class Pir:
    def __init__(self, pin, clock, debounce_ms=50, retrigger_ms=5000):
        self.pin = pin  # machine.Pin (input) or anything with value()
        self.clock = clock
        self.debounce_ms = debounce_ms
        self.retrigger_ms = retrigger_ms
        self.high_since = None  # when the output went high
        self.fired = None  # when a detection was last reported
        self.speed = 0  # a PIR measures no speed

    def triggered(self):
        """PIR (truthy) once per detection and per retrigger time; else 0."""
        now = self.clock.ms()
        if not self.pin.value():
            self.high_since = self.fired = None
            return 0
        if self.high_since is None:
            self.high_since = now
        if now - self.high_since < self.debounce_ms:
            return 0
        if self.fired is not None and now - self.fired < self.retrigger_ms:
            return 0
        self.fired = now
        return PIR
