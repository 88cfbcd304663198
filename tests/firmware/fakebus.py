# Fake pins, buses and timing functions for the sensor drivers' tests
# (firmware/hal/*.py take all of these as constructor arguments). Kept apart
# from fakehal.py, which the heap benchmark (bench/node.py) loads beside the
# firmware: these names would share the VM's qstr pools with the node's code.
# Like the tests, it must run in MicroPython as well as CPython.


class FakePin:
    """A GPIO pin that records every level written to it."""

    def __init__(self, value=0):
        self.level = value
        self.history = []

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v
        self.history.append(v)
        return None


class FakeI2C:
    """An I2C bus with one device at `addr`: a 256-byte register file.
    Records every transfer as ("w", addr, reg, bytes) or ("r", addr, reg, n);
    a device that is not there raises OSError, as machine.I2C does."""

    def __init__(self, addr, regs=None):
        self.addr = addr
        self.regs = bytearray(256)
        for reg in regs or {}:
            self.regs[reg] = regs[reg]
        self.log = []
        self.on_write = None  # called with (reg, data) after each write

    def _check(self, addr):
        if addr != self.addr:
            raise OSError(19)  # ENODEV: no ACK

    def writeto_mem(self, addr, reg, data):
        self._check(addr)
        self.log.append(("w", addr, reg, bytes(data)))
        for i in range(len(data)):
            self.regs[(reg + i) & 0xFF] = data[i]
        if self.on_write:
            self.on_write(reg, bytes(data))

    def readfrom_mem(self, addr, reg, n):
        self._check(addr)
        self.log.append(("r", addr, reg, n))
        start = reg & 0x7F if reg & 0x80 else reg  # bit 7: auto-increment (ST parts)
        return bytes(self.regs[start:start + n])


class FakeDs18x20:
    """Stands in for MicroPython's ds18x20.DS18X20 on a 1-Wire bus."""

    def __init__(self, temp_c=21.5, roms=None):
        self.temp_c = temp_c
        self.roms = [b"\x28\x01\x02\x03\x04\x05\x06\x07"] if roms is None else roms
        self.calls = []

    def scan(self):
        self.calls.append("scan")
        return list(self.roms)

    def write_scratch(self, rom, buf):
        self.calls.append(("write_scratch", rom, bytes(buf)))

    def convert_temp(self):
        self.calls.append("convert")

    def read_temp(self, rom):
        self.calls.append(("read_temp", rom))
        if isinstance(self.temp_c, Exception):
            raise self.temp_c
        return self.temp_c


class Recorder:
    """A sleep function that records how long it was asked to sleep."""

    def __init__(self):
        self.calls = []

    def __call__(self, t):
        self.calls.append(t)


class FakeUart:
    """A UART's receive side: read() gives what was queued, or None."""

    def __init__(self):
        self.chunks = []

    def read(self):
        return self.chunks.pop(0) if self.chunks else None


class FakeLightSensor:
    """A BH1750 on an I2C bus (writeto/readfrom): records commands, reads
    `raw` big-endian; `present` False makes it not answer (OSError)."""

    def __init__(self, raw=0, addr=0x23):
        self.raw = raw
        self.addr = addr
        self.present = True
        self.commands = []

    def writeto(self, addr, data):
        if addr != self.addr or not self.present:
            raise OSError(19)
        self.commands.append(bytes(data))

    def readfrom(self, addr, n):
        if addr != self.addr or not self.present:
            raise OSError(19)
        return bytes(((self.raw >> 8) & 0xFF, self.raw & 0xFF))[:n]


class FakePwm:
    def __init__(self):
        self.duties = []

    def duty_u16(self, d):
        self.duties.append(d)
