"""A simulated LoRa modem with the micropython-lib synchronous modem API
(lora.SX1262 / lora.SX1276 with lora-sync), so the firmware's own LoRa code
runs unchanged on the virtual channel.

Only the API subset the firmware uses: configure, send, start_recv,
poll_recv, standby, sleep (and get_time_on_air_us). Virtual time does not
move inside the modem: send() puts the frame on the air from now and returns
the ticks at which it ends, as the real blocking send() would; the simulator
moves the clock. Anything the firmware asks of the modem before that end
takes effect when the send is over, as it would on the real node, where
send() had not yet returned.
"""

from __future__ import annotations

from collections.abc import Mapping

from firmware.lora.airtime import airtime_us
from sim.lora_channel import PRIVATE_SYNCWORD, Channel, Frame, Radio, Reception, RxKey

# The bandwidths the drivers accept (lora_cfg "bw", a string), in Hz.
BANDWIDTHS = {"7.8": 7800, "10.4": 10400, "15.6": 15600, "20.8": 20800, "31.25": 31250,
              "41.7": 41700, "62.5": 62500, "125": 125000, "250": 250000, "500": 500000}
SF_RANGE = range(7, 13)  # what the channel models (the radio plan's SF7..SF12)
POWER_RANGE = range(-9, 23)  # SX1262: -9..+22 dBm
FREQ_KHZ_RANGE = (150_000, 960_000)  # SX1262 synthesiser
KNOWN_KEYS = frozenset((
    "freq_khz", "sf", "bw", "coding_rate", "preamble_len", "output_power", "crc_en",
    "implicit_header", "invert_iq_tx", "invert_iq_rx", "syncword", "pa_ramp_us",
    "tx_ant", "rx_boost", "dio3_tcxo_millivolts",
))


class ConfigError(ValueError):
    """What the drivers raise for a bad lora_cfg value."""

    def __init__(self, field: str) -> None:
        super().__init__(f"Invalid lora_cfg {field}")


class RxPacket(bytearray):
    """A received frame, as micropython-lib's lora.RxPacket: the payload, with
    ticks_ms (when it ended), snr (dB x 4), rssi (dBm) and valid_crc."""

    def __init__(self, payload: bytes | bytearray, ticks_ms: int | None = None,
                 snr: int | None = None, rssi: int | None = None,
                 valid_crc: bool = True) -> None:
        super().__init__(payload)
        self.ticks_ms = ticks_ms
        self.snr = snr
        self.rssi = rssi
        self.valid_crc = valid_crc

    def __repr__(self) -> str:
        return (f"RxPacket({bytes(self)!r}, {self.ticks_ms}, {self.snr}, {self.rssi}, "
                f"{self.valid_crc})")


def _ceil_ms(us: int) -> int:
    return -(-us // 1000)


def _int_in(value: object, allowed: range) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in allowed


def _is_bool(value: object) -> bool:
    return isinstance(value, bool) or value in (0, 1)


class SimModem:
    """One modem on `radio`. fifo: frames it holds between polls; the real
    chips hold one (a frame that ends before the previous was read replaces
    it, counted in `overruns`), so poll by Channel.next_end_ms() as the real
    firmware's loop would."""

    def __init__(self, channel: Channel, radio: Radio, fifo: int = 1) -> None:
        if fifo < 1:
            raise ValueError("fifo must hold at least one frame")
        self.channel = channel
        self.radio = radio
        self.fifo = fifo
        self.powered = True
        self.asleep = False
        self.sent = 0
        self.received = 0
        self.overruns = 0  # frames lost because the host had not read the previous
        self.crc_errors = 0  # micropython-lib's counter (frames with a bad CRC are not modelled)
        self._reset()

    def _reset(self) -> None:
        self._freq_khz: float | None = None
        self._sf = 7
        self._bw_hz = 125000
        self._coding_rate = 5
        self._preamble_len = 12
        self._output_power = 14
        self._crc_en = True
        self._invert_iq_rx = False
        self._invert_iq_tx = False
        self._syncword = PRIVATE_SYNCWORD
        self._rx = False
        self._rx_continuous = False
        self._rx_since_us = 0
        self._rx_deadline_us: int | None = None
        self._tx_end_us = 0
        self._tx_frame: Frame | None = None
        self._held: list[Reception] = []

    # --- state -------------------------------------------------------------
    def _check_power(self) -> None:
        if not self.powered:
            raise RuntimeError(f"modem {self.radio.name} is powered off")

    def _now_us(self) -> int:
        return self.channel.now_us

    def _effective_us(self) -> int:
        """When a command issued now takes effect: after any send in progress."""
        return max(self._now_us(), self._tx_end_us)

    def _rx_key(self) -> RxKey:
        assert self._freq_khz is not None
        return RxKey(self._freq_khz, self._sf, self._bw_hz, self._invert_iq_rx, self._syncword)

    @property
    def busy_until_ms(self) -> int:
        """When the send in progress ends (the real send() returns)."""
        return _ceil_ms(self._tx_end_us)

    @property
    def receiving(self) -> bool:
        return self._rx

    # --- the driver API ----------------------------------------------------
    def configure(self, lora_cfg: Mapping[str, object]) -> None:
        self._check_power()
        if self._rx:
            raise RuntimeError("Receiving")  # as the drivers: standby() first
        unknown = sorted(set(lora_cfg) - KNOWN_KEYS)
        if unknown:
            raise ConfigError(unknown[0])
        new: dict[str, object] = {}
        for key, value in lora_cfg.items():
            new[key] = self._check(key, value)
        if "freq_khz" in new:
            f = new["freq_khz"]
            assert isinstance(f, int | float)
            self._freq_khz = f
        for key, attr in (("sf", "_sf"), ("coding_rate", "_coding_rate"),
                          ("preamble_len", "_preamble_len"), ("output_power", "_output_power"),
                          ("syncword", "_syncword"), ("bw", "_bw_hz")):
            if key in new:
                setattr(self, attr, new[key])
        for key, attr in (("crc_en", "_crc_en"), ("invert_iq_tx", "_invert_iq_tx"),
                          ("invert_iq_rx", "_invert_iq_rx")):
            if key in new:
                setattr(self, attr, bool(new[key]))
        self.asleep = False

    @staticmethod
    def _check(key: str, value: object) -> object:
        """The value as the modem keeps it; ConfigError if a driver would refuse it."""
        if key == "freq_khz":
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not FREQ_KHZ_RANGE[0] <= value <= FREQ_KHZ_RANGE[1]):
                raise ConfigError(key)
            return int(value) if float(value).is_integer() else float(value)
        if key == "sf":
            if not _int_in(value, SF_RANGE):
                raise ConfigError(key)
            return value
        if key == "bw":
            bw = BANDWIDTHS.get(str(value))
            if bw is None:
                raise ConfigError(key)
            return bw
        if key == "coding_rate":
            if not _int_in(value, range(5, 9)):
                raise ConfigError(key)
            return value
        if key == "preamble_len":
            if not _int_in(value, range(6, 65536)):
                raise ConfigError(key)
            return value
        if key == "output_power":
            if not _int_in(value, POWER_RANGE):
                raise ConfigError(key)
            return value
        if key == "syncword":
            if not _int_in(value, range(0, 0x10000)):
                raise ConfigError(key)
            return value
        if key == "implicit_header":
            if value:  # implicit header frames are not modelled
                raise ConfigError(key)
            return False
        if key in ("crc_en", "invert_iq_tx", "invert_iq_rx", "rx_boost"):
            if not _is_bool(value):
                raise ConfigError(key)
            return value
        return value  # pa_ramp_us, tx_ant, dio3_tcxo_millivolts: no effect on the air

    def get_time_on_air_us(self, payload_len: int) -> int:
        us: int = airtime_us(payload_len, self._sf, self._bw_hz, self._coding_rate - 4,
                             self._preamble_len, True, self._crc_en)
        return us

    def send(self, packet: bytes | bytearray, tx_at_ms: int | None = None) -> int:
        """Put `packet` on the air; the ticks_ms at which it has been sent."""
        self._check_power()
        if len(packet) > 255:
            raise ConfigError("packet too long")
        if self._freq_khz is None:
            raise RuntimeError("configure() the modem with freq_khz before sending")
        start = self._effective_us()
        self.channel.listen(self.radio, None, at_us=start)  # standby while it sends
        if tx_at_ms is not None:
            start = max(start, tx_at_ms * 1000)
        frame = self.channel.transmit(
            self.radio, bytes(packet), self._freq_khz, self._sf, invert_iq=self._invert_iq_tx,
            power_dbm=self._output_power, start_us=start, bw_hz=self._bw_hz,
            cr=self._coding_rate - 4, preamble=self._preamble_len, syncword=self._syncword,
            crc=self._crc_en)
        self._tx_frame = frame
        self._tx_end_us = frame.end_us
        self.asleep = False
        self.sent += 1
        if self._rx:  # the driver resumes receiving once the send is done
            self.channel.listen(self.radio, self._rx_key(), at_us=frame.end_us)
        return _ceil_ms(frame.end_us)

    def start_recv(self, timeout_ms: int | None = None, continuous: bool = False,
                   rx_length: int = 0xFF) -> bool:
        self._check_power()
        if continuous and timeout_ms is not None:
            raise ValueError("continuous receive takes no timeout")
        if self._freq_khz is None:
            raise RuntimeError("configure() the modem with freq_khz before receiving")
        at = self._effective_us()
        self._rx = True
        self._rx_continuous = continuous
        self._rx_since_us = at
        self._rx_deadline_us = None if timeout_ms is None else at + timeout_ms * 1000
        self._held = []
        self.asleep = False
        self.channel.listen(self.radio, self._rx_key(), at_us=at)
        return True

    def poll_recv(self, rx_packet: RxPacket | None = None) -> bool | RxPacket:
        """True: still receiving; False: not receiving; an RxPacket: a frame."""
        self._check_power()
        if not self._rx:
            return False
        now = self._now_us()
        if now < self._tx_end_us:
            return True  # sending; receiving resumes afterwards
        for rec in self.channel.poll(self.radio):
            start = rec.frame.start_us
            if start < self._rx_since_us:
                continue  # from before this receive started
            if self._rx_deadline_us is not None and start >= self._rx_deadline_us:
                continue  # after the receive timed out
            self._held.append(rec)
        if self._rx_continuous:
            if len(self._held) > self.fifo:
                self.overruns += len(self._held) - self.fifo
                del self._held[:-self.fifo]
            if self._held:
                return self._packet(self._held.pop(0), rx_packet)
            return True
        if self._held:
            # A single receive ends with its first frame; the radio heard no more.
            rec = self._held[0]
            self._end_recv()
            return self._packet(rec, rx_packet)
        if self._rx_deadline_us is not None and now >= self._rx_deadline_us:
            self._end_recv()
            return False
        return True

    def _end_recv(self) -> None:
        self._rx = False
        self._held = []
        self.channel.listen(self.radio, None)

    def _packet(self, rec: Reception, rx_packet: RxPacket | None) -> RxPacket:
        payload = rec.frame.payload
        if rx_packet is None or len(rx_packet) != len(payload):
            rx_packet = RxPacket(payload)
        else:
            rx_packet[:] = payload
        rx_packet.ticks_ms = _ceil_ms(rec.frame.end_us)
        # The chips report SNR as a signed byte of quarter dB.
        rx_packet.snr = max(-128, min(127, round(rec.snr_db * 4)))
        rx_packet.rssi = round(rec.rssi_dbm)
        rx_packet.valid_crc = True
        self.received += 1
        return rx_packet

    def standby(self) -> None:
        self._check_power()
        self._rx = False
        self._held = []
        self.asleep = False
        self.channel.listen(self.radio, None, at_us=self._effective_us())

    def sleep(self) -> None:
        self.standby()
        self.asleep = True

    # --- the simulator's side ------------------------------------------------
    def power_off(self) -> None:
        """The node loses power or goes into deep sleep: a frame being sent
        stops mid-air (lost), nothing more is received, the configuration is gone."""
        if not self.powered:
            return
        frame = self._tx_frame
        if frame is not None and frame.end_us > self._now_us():
            self.channel.cut(frame)
        self.channel.listen(self.radio, None)
        self.channel.poll(self.radio)  # what it had heard but not read is gone
        self._reset()
        self._tx_end_us = self._now_us()
        self.powered = False
        self.asleep = False

    def power_on(self) -> None:
        """Power back: the modem is as after reset, to be configured again."""
        if not self.powered:
            self._reset()
            self._tx_end_us = self._now_us()
            self.powered = True
