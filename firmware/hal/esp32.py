# The hardware layer on a real ESP32: pins, PWM, ADC, RTC memory, Wi-Fi and a
# UDP socket. Only this file and firmware/main.py import `machine`.
import socket
import time

import machine
import network

# GPIO defaults for the reference boards; a node's config may override any
# of them under "pins".
DEFAULT_PINS = {
    "trigger": 5,  # ultrasonic sensor trigger
    "echo": 18,  # ultrasonic sensor echo
    "sensor_power": 19,  # switches the sensor's supply (it draws ~3 mA otherwise)
    "battery_adc": 34,  # battery voltage through a 1:2 divider
    "led_pwm": 25,  # lamp driver dimming input
    "pir": 27,  # PIR sensor output
}

# Seconds between the MicroPython epoch and the unix epoch on ports whose
# epoch is 2000-01-01.
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


class Clock:
    def __init__(self):
        self._last = time.ticks_ms()
        self._ms = 0

    def ms(self):
        # ticks_ms() wraps; accumulate differences into a counter that does not.
        now = time.ticks_ms()
        self._ms += time.ticks_diff(now, self._last)
        self._last = now
        return self._ms

    def time(self):
        t = time.time()
        # Before NTP has set it the RTC counts from its epoch: treat as unset.
        if t < 1600000000 - _EPOCH_OFFSET:
            return 0
        return t + _EPOCH_OFFSET


class UdpNet:
    def __init__(self, host, port):
        self.addr = socket.getaddrinfo(host, port)[0][-1]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def send(self, data):
        self.sock.sendto(data, self.addr)

    def recv(self):
        try:
            return self.sock.recv(256)
        except OSError:
            return None


class RtcStore:
    def __init__(self):
        self.rtc = machine.RTC()

    def load(self):
        return bytes(self.rtc.memory())

    def save(self, data):
        self.rtc.memory(data)


class UltrasonicSensor:
    """HC-SR04 / JSN-SR04T: a trigger pulse, then the echo's width in us."""

    def __init__(self, trigger, echo, power):
        self.trigger = machine.Pin(trigger, machine.Pin.OUT, value=0)
        self.echo = machine.Pin(echo, machine.Pin.IN)
        self.power = machine.Pin(power, machine.Pin.OUT, value=0)

    def distance_mm(self):
        self.power.value(1)
        time.sleep_ms(60)  # the module needs time to settle after power-up
        try:
            self.trigger.value(1)
            time.sleep_us(10)
            self.trigger.value(0)
            us = machine.time_pulse_us(self.echo, 1, 30000)
        finally:
            self.power.value(0)
        if us < 0:
            return None
        return us * 343 // 2000  # speed of sound at 20 C, there and back


class AdcBattery:
    def __init__(self, pin, divider=2):
        self.adc = machine.ADC(machine.Pin(pin))
        self.adc.atten(machine.ADC.ATTN_11DB)
        self.divider = divider

    def mv(self):
        return self.adc.read_uv() * self.divider // 1000


class NoSensor:
    def celsius(self):
        return None


class PwmLed:
    def __init__(self, pin, freq=1000):
        self.pwm = machine.PWM(machine.Pin(pin), freq=freq, duty_u16=0)

    def set_pct(self, pct):
        self.pwm.duty_u16(int(pct * 65535 // 100))


class PirPresence:
    def __init__(self, pin):
        self.pin = machine.Pin(pin, machine.Pin.IN)
        self._hit = False
        self.pin.irq(self._irq, machine.Pin.IRQ_RISING)

    def _irq(self, _pin):
        self._hit = True

    def triggered(self):
        hit = self._hit
        self._hit = False
        return hit


class Hal:
    def __init__(self, cfg):
        pins = dict(DEFAULT_PINS)
        pins.update(cfg.pins)
        self.clock = Clock()
        self.store = RtcStore()
        self.battery = AdcBattery(pins["battery_adc"])
        self.temperature = NoSensor()
        if cfg.role == "bin":
            self.fill_sensor = UltrasonicSensor(pins["trigger"], pins["echo"],
                                                pins["sensor_power"])
        else:
            self.led = PwmLed(pins["led_pwm"])
            self.presence = PirPresence(pins["pir"])
        self.net = None

    def connect(self, cfg, timeout_ms=15000):
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        if not wlan.isconnected():
            wlan.connect(cfg.wifi_ssid, cfg.wifi_password)
            start = time.ticks_ms()
            while not wlan.isconnected():
                if time.ticks_diff(time.ticks_ms(), start) > timeout_ms:
                    return False
                time.sleep_ms(100)
        if self.clock.time() == 0:
            try:
                import ntptime
                ntptime.settime()
            except Exception as e:  # no NTP server reachable: reports carry time 0
                self.log("clock not set: %s" % e)
        self.net = UdpNet(cfg.gateway_host, cfg.gateway_port)
        return True

    def random_bits(self, n):
        import random
        return random.getrandbits(n)

    def log(self, line):
        print(line)

    def deep_sleep(self, ms):
        machine.deepsleep(ms)
