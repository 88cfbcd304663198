# The hardware layer on a real ESP32: pins, PWM, ADC, RTC memory, NVS, Wi-Fi
# and a UDP socket, and each role's sensors wired from the node's config. Only this
# file and firmware/main.py import `machine`; the sensor drivers beside it
# take their pins and buses as arguments.
import socket
import time

import esp32
import machine
import network

from firmware.net.transport import Transport

# GPIO defaults for the reference boards; a node's config may override any
# of them under "pins".
DEFAULT_PINS = {
    "trigger": 5,  # ultrasonic sensor trigger
    "echo": 18,  # ultrasonic sensor echo
    "sensor_power": 19,  # switches the fill sensor's supply (it draws mA when idle)
    "tof_sda": 32,  # TF-Luna's own I2C bus (an unpowered device must not load
    "tof_scl": 33,  # the bus the accelerometer is read on)
    "onewire": 4,  # DS18B20 data, 4.7 kOhm pull-up to 3.3 V
    "i2c_sda": 21,  # LIS3DH accelerometer (bin), BH1750 light sensor (light)
    "i2c_scl": 22,
    "lid": 13,  # reed switch to GND, closed while the lid is shut
    "battery_adc": 34,  # battery voltage through a 1:2 divider
    "led_pwm": 25,  # lamp driver dimming input
    "pir": 27,  # PIR sensor output
    "radar_tx": 17,  # UART2 to the LD2410's RX
    "radar_rx": 16,  # UART2 from the LD2410's TX
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

    def set(self, unix):
        """Set the clock from unix seconds (the gateway's time over LoRa)."""
        y, mo, d, h, mi, sec, wd, _ = time.gmtime(unix - _EPOCH_OFFSET)
        machine.RTC().datetime((y, mo, d, wd, h, mi, sec, 0))


class UdpNet(Transport):
    def __init__(self, host, port):
        self.addr = socket.getaddrinfo(host, port)[0][-1]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

        self.peer = self.addr  # where the last datagram came from

    def send(self, data):
        self.sock.sendto(data, self.addr)
        return True

    def reply(self, data):
        """Answer the last datagram's sender (a request may come from the
        gateway's command socket or an operator's tool, not port 5683)."""
        self.sock.sendto(data, self.peer)

    def recv(self):
        try:
            data, self.peer = self.sock.recvfrom(256)
        except OSError:
            return None
        return data


class WifiNet(Transport):
    """A light node's link to the gateway that never blocks the lamp: sends
    while Wi-Fi is down are dropped, and it reconnects by itself."""

    def __init__(self, cfg, clock, log):
        self.cfg = cfg
        self.clock = clock
        self._log = log
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        self.udp = None
        self.next_try = 0

    def log(self, line):
        self._log(line)

    def _up(self):
        if self.wlan.isconnected():
            if self.udp is None:
                if self.clock.time() == 0:
                    _set_clock(self.log)
                self.udp = UdpNet(self.cfg.gateway_host, self.cfg.gateway_port)
            return True
        self.udp = None
        now = self.clock.ms()
        if now >= self.next_try:
            self.next_try = now + 30000
            try:
                self.wlan.connect(self.cfg.wifi_ssid, self.cfg.wifi_password)
            except OSError as e:  # still busy with the last attempt
                self.log("Wi-Fi: %s" % e)
        return False

    def send(self, data):
        if self._up() and self.udp is not None:
            try:
                self.udp.send(data)
            except OSError:
                pass  # like a radio: a send into nowhere is lost
        return True

    def reply(self, data):
        if self.udp is not None:
            try:
                self.udp.reply(data)
            except OSError:
                pass

    def recv(self):
        if self.udp is None or not self.wlan.isconnected():
            return None
        return self.udp.recv()


def _set_clock(log):
    try:
        import ntptime
        ntptime.settime()
    except Exception as e:  # no NTP server reachable: messages carry time 0
        log("clock not set: %s" % e)


class RtcStore:
    def __init__(self):
        self.rtc = machine.RTC()

    def load(self):
        return bytes(self.rtc.memory())

    def save(self, data):
        self.rtc.memory(data)


class LidSwitch:
    """A reed switch to GND, closed by a magnet in the lid while it is shut.
    The pull-up is on only while reading: with the lid shut it would draw
    ~70 uA through the switch all the time."""

    def __init__(self, pin):
        self.pin = pin

    def is_open(self):
        p = self.pin
        p.init(machine.Pin.IN, machine.Pin.PULL_UP)
        time.sleep_ms(1)
        is_open = p.value() == 1
        # Pulled down, no current flows whether the switch is open or closed.
        p.init(machine.Pin.IN, machine.Pin.PULL_DOWN)
        return is_open


class AdcBattery:
    def __init__(self, pin, divider=2):
        self.adc = machine.ADC(machine.Pin(pin))
        self.adc.atten(machine.ADC.ATTN_11DB)
        self.divider = divider

    def mv(self):
        return self.adc.read_uv() * self.divider // 1000


class NvsStore:
    """Bytes kept in flash (ESP-IDF's NVS) across reboots and power cuts."""

    def __init__(self, key):
        self.nvs = esp32.NVS("kvarter")
        self.key = key

    def load(self):
        buf = bytearray(64)
        try:
            n = self.nvs.get_blob(self.key, buf)
        except OSError:  # nothing stored yet
            return b""
        return bytes(buf[:n])

    def save(self, data):
        self.nvs.set_blob(self.key, data)
        self.nvs.commit()


class NoSensor:
    """An optional sensor that is not fitted: no reading."""

    def celsius(self):
        return None

    def degrees(self):
        return None

    def is_open(self):
        return None

    def lux(self):
        return None


def _fitted(fitted, make):
    """The sensor make() builds, or NoSensor() when the config does not fit one."""
    return make() if fitted else NoSensor()


class Hal:
    def __init__(self, cfg):
        pins = dict(DEFAULT_PINS)
        pins.update(cfg.pins)
        self.clock = Clock()
        self.store = RtcStore()
        self.battery = AdcBattery(pins["battery_adc"])
        # Optional sensors read None until the config fits them.
        self.temperature = NoSensor()  # type: object
        self.tilt = NoSensor()  # type: object
        self.lid = NoSensor()  # type: object
        self.net = None
        if cfg.role == "bin":
            self._bin_sensors(cfg, pins)
            from firmware.hal.file_store import FileStore
            self.outbox = FileStore("outbox.bin")  # reports not yet acknowledged
        else:
            self._light(cfg, pins)
        if cfg.transport == "lora":
            self.net = self._lora_net(cfg)

    def _lora_net(self, cfg):
        from firmware.hal.lora_modem import LazyModem
        from firmware.lora.duty_cycle import DutyCycle
        from firmware.lora.net import LoraNet
        r = cfg.lora
        # A bin node listens only after its own uplinks (it is awake only
        # then); a light node takes the gateway's requests at any time. A bin
        # node restores net.duty from RTC memory after deep sleep.
        return LoraNet(LazyModem(r), cfg.node_id, self.clock, self.log, DutyCycle(), r.sf,
                       r.output_power, listen=cfg.role == "light")

    def _light(self, cfg, pins):
        # Each role's drivers are imported where that role is wired: a bin
        # node never loads a light node's, nor a light node a bin node's.
        from firmware.hal.drivers.bh1750 import Bh1750
        from firmware.hal.drivers.pwm_led import PwmLed

        Pin = machine.Pin
        self.led = PwmLed(machine.PWM(Pin(pins["led_pwm"]), freq=cfg.pwm_hz, duty_u16=0),
                          cfg.pwm_max_duty, cfg.pwm_invert)
        retrigger_ms = int(cfg.retrigger_s * 1000)
        self.presence = None  # type: object
        if cfg.presence == "ld2410":
            from firmware.hal.drivers.ld2410 import MOVE_THRESHOLDS, STILL_THRESHOLDS, Radar

            uart = machine.UART(2, baudrate=256000, tx=pins["radar_tx"], rx=pins["radar_rx"],
                                rxbuf=512, timeout=0)
            faces = {"up": 1, "down": -1}.get(cfg.radar_faces, 0)
            self.presence = Radar(uart, self.clock, cfg.radar_move_thr or MOVE_THRESHOLDS,
                                  cfg.radar_still_thr or STILL_THRESHOLDS, faces, retrigger_ms)
        else:
            from firmware.hal.drivers.pir import Pir

            self.presence = Pir(Pin(pins["pir"], Pin.IN), self.clock, cfg.pir_debounce_ms,
                                retrigger_ms)
        self.ambient = _fitted(cfg.ambient == "bh1750", lambda: Bh1750(
            machine.I2C(0, scl=Pin(pins["i2c_scl"]), sda=Pin(pins["i2c_sda"]), freq=100000)))
        self.settings = NvsStore("profile")
        if cfg.transport == "wifi":
            self.net = WifiNet(cfg, self.clock, self.log)

    def _bin_sensors(self, cfg, pins):
        from firmware.hal.drivers.ranger import PoweredRanger

        Pin = machine.Pin
        power = Pin(pins["sensor_power"], Pin.OUT, value=0)
        if cfg.sensor == "tof":
            from firmware.hal.drivers.tfluna import TfLuna

            bus = machine.I2C(0, scl=Pin(pins["tof_scl"]), sda=Pin(pins["tof_sda"]),
                              freq=100000)
            self.fill_sensor = PoweredRanger(TfLuna(bus, time.sleep_ms), power, time.sleep_ms)
        else:
            from firmware.hal.drivers.ultrasonic import Ultrasonic

            self.fill_sensor = PoweredRanger(
                Ultrasonic(Pin(pins["trigger"], Pin.OUT, value=0), Pin(pins["echo"], Pin.IN),
                           machine.time_pulse_us, time.sleep_us), power, time.sleep_ms)
        if cfg.temp_sensor == "ds18b20":
            import ds18x20
            import onewire

            from firmware.hal.drivers.ds18b20 import Ds18b20

            self.temperature = Ds18b20(ds18x20.DS18X20(onewire.OneWire(Pin(pins["onewire"]))),
                                       time.sleep_ms)
        if cfg.tilt_sensor == "lis3dh":
            from firmware.hal.drivers.lis3dh import Lis3dh

            self.tilt = Lis3dh(
                machine.I2C(1, scl=Pin(pins["i2c_scl"]), sda=Pin(pins["i2c_sda"]), freq=100000),
                time.sleep_ms)
        self.lid = _fitted(cfg.lid_switch, lambda: LidSwitch(Pin(pins["lid"])))

    def connect(self, cfg, timeout_ms=15000):
        if cfg.transport == "lora":
            return True  # the radio needs no association
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
            _set_clock(self.log)
        self.net = UdpNet(cfg.gateway_host, cfg.gateway_port)
        return True

    def wifi_rssi(self):
        """The access point's signal in dBm (for the self-test), or None."""
        try:
            return network.WLAN(network.STA_IF).status("rssi")
        except Exception:  # not connected, or a port without the reading
            return None

    def random_bits(self, n):
        import random
        return random.getrandbits(n)

    def aes(self, key):
        """AES-ECB over mbedTLS (cryptolib mode 1): the block cipher of
        OSCORE's AES-CCM, which needs the forward cipher only (the stock
        build has no CTR mode)."""
        import cryptolib
        return cryptolib.aes(key, 1)

    def flash_store(self, name):
        """Bytes in NVS under `name` (OSCORE's bounds ahead of use)."""
        return NvsStore(name)

    def log(self, line):
        print(line)

    def deep_sleep(self, ms):
        net = self.net
        # A LoRa modem keeps its mode through the ESP32's deep sleep: put it
        # to sleep after use, and once after power-on (it starts in standby,
        # which draws milliamps).
        if net is not None and net.is_lora and (
                net.used or machine.reset_cause() != machine.DEEPSLEEP_RESET):
            net.sleep()
        machine.deepsleep(ms)
