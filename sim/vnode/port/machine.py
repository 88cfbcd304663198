# `machine` as on MicroPython's ESP32 port, acting on the virtual node's
# simulated board (sim/vnode/board.mjs) and the chip's lasting state.
# mypy: ignore-errors
import binascii
import time

import _vnode as _v

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
PIN_WAKE = EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6
SLEEP = 2
DEEPSLEEP = 4

# The ESP32's GPIOs; 34..39 are inputs only.
_GPIOS = tuple(range(0, 20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40))
_ADC_PINS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)
_freq = 160000000


def _gpio(pin):
    if isinstance(pin, Pin):
        return pin._id
    if isinstance(pin, int) and pin in _GPIOS:
        return pin
    raise ValueError("invalid pin")


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_DOWN = 1
    PULL_UP = 2
    PULL_HOLD = 4
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    DRIVE_3 = 3

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        self._id = _gpio(id)
        self._irq = None
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        if mode in (Pin.OUT, Pin.OPEN_DRAIN) and self._id >= 34:
            raise ValueError("pin can only be input")
        _v.pin_init(self._id, -1 if mode is None else mode, -1 if pull is None else pull,
                    -1 if value is None else (1 if value else 0))

    def value(self, x=None):
        if x is None:
            return _v.pin_read(self._id)
        _v.pin_write(self._id, 1 if x else 0)

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        _v.pin_write(self._id, 1)

    def off(self):
        _v.pin_write(self._id, 0)

    def irq(self, handler=None, trigger=3, *, wake=None, hard=False):
        # Kept, never called: the simulated board raises no pin interrupts.
        self._irq = handler
        return self

    def __repr__(self):
        return f"Pin({self._id})"


class Signal:
    def __init__(self, pin, *args, invert=False, **kwargs):
        self._pin = pin if isinstance(pin, Pin) else Pin(pin, *args, **kwargs)
        self._invert = invert

    def value(self, x=None):
        if x is None:
            return self._pin.value() ^ self._invert
        self._pin.value(bool(x) ^ self._invert)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 9
    WIDTH_10BIT = 10
    WIDTH_11BIT = 11
    WIDTH_12BIT = 12
    # Full scale (uV) by attenuation, as the ESP32's calibrated ADC reads.
    _FULL = (950000, 1250000, 1750000, 3100000)

    def __init__(self, pin, *, atten=None):
        self._id = _gpio(pin)
        if self._id not in _ADC_PINS:
            raise ValueError("invalid pin for ADC")
        self._atten = ADC.ATTN_0DB if atten is None else atten
        self._bits = 12

    def init(self, *, atten=None):
        if atten is not None:
            self._atten = atten

    def atten(self, atten):
        self._atten = atten

    def width(self, bits):
        self._bits = bits

    def read_uv(self):
        return min(_v.adc_uv(self._id), ADC._FULL[self._atten])

    def read_u16(self):
        return self.read_uv() * 65535 // ADC._FULL[self._atten]

    def read(self):
        return self.read_uv() * ((1 << self._bits) - 1) // ADC._FULL[self._atten]


class PWM:
    def __init__(self, dest, *, freq=5000, duty=None, duty_u16=None, duty_ns=None, invert=False):
        self._id = _gpio(dest)
        self._freq = freq
        self._duty = 0
        self.init(freq=freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns)

    def init(self, *, freq=None, duty=None, duty_u16=None, duty_ns=None):
        if freq is not None:
            self._freq = freq
        if duty is not None:
            self._duty = duty * 65535 // 1023
        if duty_u16 is not None:
            self._duty = duty_u16
        if duty_ns is not None:
            self._duty = min(65535, duty_ns * self._freq * 65535 // 1000000000)
        _v.pwm(self._id, self._freq, self._duty)

    def deinit(self):
        _v.pwm(self._id, 0, 0)

    def freq(self, value=None):
        if value is None:
            return self._freq
        self.init(freq=value)

    def duty(self, value=None):
        if value is None:
            return self._duty * 1023 // 65535
        self.init(duty=value)

    def duty_u16(self, value=None):
        if value is None:
            return self._duty
        self.init(duty_u16=value)

    def duty_ns(self, value=None):
        if value is None:
            return self._duty * 1000000000 // (65535 * self._freq)
        self.init(duty_ns=value)


class I2C:
    _DEFAULTS = {0: (18, 19), 1: (25, 26)}  # id -> (scl, sda)

    def __init__(self, id=-1, *, scl=None, sda=None, freq=400000, timeout=50000):
        dscl, dsda = I2C._DEFAULTS.get(id, (None, None))
        if id not in (-1, 0, 1):
            raise ValueError(f"I2C({id}) doesn't exist")
        self._scl = _gpio(dscl if scl is None else scl)
        self._sda = _gpio(dsda if sda is None else sda)
        self._freq = freq

    def init(self, *, scl=None, sda=None, freq=400000, timeout=50000):
        if scl is not None:
            self._scl = _gpio(scl)
        if sda is not None:
            self._sda = _gpio(sda)
        self._freq = freq

    def scan(self):
        found = _v.i2c_scan(self._sda, self._scl)
        return [int(a) for a in found.split(",")] if found else []

    def _read(self, addr, reg, n):
        data = _v.i2c_read(self._sda, self._scl, addr, reg, n)
        if data is None:
            raise OSError(19)  # ENODEV: no device acknowledged
        return binascii.unhexlify(data)

    def _write(self, addr, reg, buf):
        if not _v.i2c_write(self._sda, self._scl, addr, reg, binascii.hexlify(bytes(buf)).decode()):
            raise OSError(19)

    def readfrom(self, addr, nbytes, stop=True):
        return self._read(addr, -1, nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self._read(addr, -1, len(buf))

    def writeto(self, addr, buf, stop=True):
        self._write(addr, -1, buf)
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = b"".join(bytes(v) for v in vector)
        self._write(addr, -1, data)
        return len(data)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        return self._read(addr, memaddr, nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        buf[:] = self._read(addr, memaddr, len(buf))

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._write(addr, memaddr, buf)


class SoftI2C(I2C):
    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        super().__init__(-1, scl=scl, sda=sda, freq=freq)


class SPI:
    MSB = 0
    LSB = 1
    _DEFAULTS = {1: (14, 13, 12), 2: (18, 23, 19)}  # id -> (sck, mosi, miso)

    def __init__(self, id, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        if id not in SPI._DEFAULTS:
            raise ValueError(f"SPI({id}) doesn't exist")
        self._baudrate = baudrate

    def init(self, baudrate=1000000, **kwargs):
        self._baudrate = baudrate

    def deinit(self):
        pass

    # Nothing on the bus drives MISO: it reads as pulled high.
    def read(self, nbytes, write=0):
        return b"\xff" * nbytes

    def readinto(self, buf, write=0):
        for i in range(len(buf)):
            buf[i] = 0xFF

    def write(self, buf):
        return None

    def write_readinto(self, write_buf, read_buf):
        self.readinto(read_buf)


class UART:
    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, **kwargs):
        if id not in (0, 1, 2):
            raise ValueError(f"UART({id}) does not exist")
        self._id = id

    def init(self, *args, **kwargs):
        pass

    def deinit(self):
        pass

    # Nothing is wired to the node's spare UARTs.
    def any(self):
        return 0

    def read(self, nbytes=None):
        return None

    def readinto(self, buf, nbytes=None):
        return None

    def readline(self):
        return None

    def write(self, buf):
        return len(buf)

    def flush(self):
        pass

    def txdone(self):
        return True


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is None:
            y, mo, d, h, mi, s, wd, _ = time.gmtime()
            return (y, mo, d, wd, h, mi, s, _v.rtc_us())
        y, mo, d, wd, h, mi, s = dt[:7]
        us = dt[7] if len(dt) > 7 else 0
        _v.rtc_set(time.mktime((y, mo, d, h, mi, s, 0, 0)) + 946684800 + us / 1000000)

    def init(self, dt):
        self.datetime(dt)

    def memory(self, data=None):
        if data is None:
            return binascii.unhexlify(_v.rtc_memory())
        if len(data) > 2048:
            raise ValueError("buffer too long")
        _v.rtc_memory_set(binascii.hexlify(bytes(data)).decode())


class WDT:
    def __init__(self, id=0, timeout=5000):
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        _v.wdt_start(timeout)

    def feed(self):
        _v.wdt_feed()


def reset():
    _v.reset()


def soft_reset():
    _v.soft_reset()


def deepsleep(time_ms=0):
    _v.deepsleep(int(time_ms))


def lightsleep(time_ms=0):
    time.sleep_ms(int(time_ms))


def idle():
    time.sleep_ms(1)


def bootloader():
    _v.bootloader()


def reset_cause():
    return _v.reset_cause()


def wake_reason():
    return _v.wake_reason()


def unique_id():
    return binascii.unhexlify(_v.unique_id())


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq
    if hz not in (20000000, 40000000, 80000000, 160000000, 240000000):
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _freq = hz


def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    return _v.pulse_us(_gpio(pin), pulse_level, timeout_us)


def disable_irq():
    return 0


def enable_irq(state=0):
    pass
