# An in-memory hardware layer for the firmware's unit tests. Like the tests,
# it must run in MicroPython as well as CPython.
from firmware.net.transport import Transport


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

    def set(self, unix):
        self.unix = unix - self.now_ms // 1000


class FakeNet(Transport):
    """A Wi-Fi link: what is sent is kept in `sent`; `inbox` arrives."""

    def __init__(self):
        self.sent = []
        self.inbox = []

    def send(self, data):
        self.sent.append(bytes(data))
        return True

    def recv(self):
        if self.inbox:
            return self.inbox.pop(0)
        return None


class FakeRx(bytearray):
    """micropython-lib's RxPacket: the payload, and how it was received."""

    def __init__(self, data, rssi=-90, snr=20, valid_crc=True):
        super().__init__(data)
        self.rssi = rssi  # dBm
        self.snr = snr  # dB x 4
        self.valid_crc = valid_crc
        self.ticks_ms = 0


class FakeModem:
    """The synchronous micropython-lib LoRa modem API that firmware.lora.net
    uses. `log` lists what was done: ("configure", cfg), ("send", bytes),
    ("recv", continuous), ("sleep",); frames in `inbox` arrive while receiving."""

    def __init__(self, clock=None):
        self.clock = clock  # advanced by each frame's airtime when given
        self.cfg = {}
        self.log = []
        self.inbox = []
        self.receiving = False

    def sent(self):
        return [e[1] for e in self.log if e[0] == "send"]

    def configure(self, cfg):
        # As both micropython-lib drivers: no reconfiguring mid-reception.
        if self.receiving:
            raise RuntimeError("Receiving")
        self.cfg = dict(cfg)
        self.log.append(("configure", dict(cfg)))

    def send(self, packet):
        self.receiving = False
        self.log.append(("send", bytes(packet)))
        if self.clock is not None:
            from firmware.lora.airtime import airtime_us
            self.clock.advance(airtime_us(len(packet), self.cfg["sf"]) // 1000)
        return self.clock.ms() if self.clock is not None else 0

    def start_recv(self, timeout_ms=None, continuous=False, rx_length=0xFF):
        self.receiving = True
        self.log.append(("recv", continuous))
        return True

    def poll_recv(self, rx_packet=None):
        if not self.receiving:
            return False
        if self.inbox:
            return self.inbox.pop(0)
        return True

    def standby(self):
        self.receiving = False

    def sleep(self):
        self.receiving = False
        self.log.append(("sleep",))


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
        self.flash = {}  # hal.flash_store(name)
        self._rand = 12345

    def random_bits(self, n):
        # A fixed linear congruential sequence keeps tests repeatable.
        self._rand = (self._rand * 1103515245 + 12345) & 0x7FFFFFFF
        return self._rand & ((1 << n) - 1)

    def log(self, line):
        self.lines.append(line)

    def flash_store(self, name):
        if name not in self.flash:
            self.flash[name] = FakeStore()
        return self.flash[name]

    def aes(self, key):
        return make_aes(key)


def make_aes(key):
    """hal.aes: the cryptography package's AES-ECB in CPython, as the
    simulator's; in the MicroPython VM (no cryptolib) the tests' own AES."""
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError:
        from aes128 import Aes128
        return Aes128(key)
    return _Ecb(Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor())


class _Ecb:
    def __init__(self, encryptor):
        self.encryptor = encryptor

    def encrypt(self, block):
        return self.encryptor.update(bytes(block))
