# An in-memory hardware layer for the firmware's unit tests. Like the tests,
# it must run in MicroPython as well as CPython.


class FakeClock:
    def __init__(self, ms=0, unix=1790000000):
        self.now_ms = ms
        self.unix = unix

    def ms(self):
        return self.now_ms

    def time(self):
        return self.unix + self.now_ms // 1000 if self.unix else 0

    def advance(self, ms):
        self.now_ms += ms


class FakeNet:
    def __init__(self):
        self.sent = []
        self.inbox = []

    def send(self, data):
        self.sent.append(bytes(data))

    def recv(self):
        if self.inbox:
            return self.inbox.pop(0)
        return None


class FakeStore:
    def __init__(self):
        self.data = b""

    def load(self):
        return self.data

    def save(self, data):
        self.data = bytes(data)


class Value:
    """A sensor that reads `value` (None: not fitted or no reading)."""

    def __init__(self, value):
        self.value = value

    def mv(self):
        return self.value

    def celsius(self):
        return self.value

    def degrees(self):
        return self.value

    def is_open(self):
        return self.value


class FakeRanger:
    """hal.fill_sensor: `value` in `unit` for every sample, or `value` as the
    list of samples itself."""

    def __init__(self, value, unit="mm"):
        self.value = value
        self.unit = unit

    def samples(self, n):
        if isinstance(self.value, list):
            return list(self.value)
        return [self.value] * n


class FakeLed:
    def __init__(self):
        self.levels = []

    def set_pct(self, pct):
        self.levels.append(pct)


class FakePresence:
    def __init__(self):
        self.hits = 0

    def trigger(self):
        self.hits += 1

    def triggered(self):
        if self.hits:
            self.hits -= 1
            return True
        return False


class FakeHal:
    def __init__(self, distance_mm=500, battery_mv=3600, temp_c=12, tilt_deg=None,
                 lid_open=None):
        self.clock = FakeClock()
        self.net = FakeNet()
        self.store = FakeStore()
        self.fill_sensor = FakeRanger(distance_mm)
        self.battery = Value(battery_mv)
        self.temperature = Value(temp_c)
        self.tilt = Value(tilt_deg)
        self.lid = Value(lid_open)
        self.led = FakeLed()
        self.presence = FakePresence()
        self.lines = []
        self._rand = 12345

    def random_bits(self, n):
        # A fixed linear congruential sequence keeps tests repeatable.
        self._rand = (self._rand * 1103515245 + 12345) & 0x7FFFFFFF
        return self._rand & ((1 << n) - 1)

    def log(self, line):
        self.lines.append(line)
