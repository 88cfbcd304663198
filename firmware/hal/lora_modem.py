# LoRa modems on an ESP32: micropython-lib's drivers (packages lora-sync plus
# lora-sx126x or lora-sx127x, installed with mip or frozen into the image),
# built from a firmware.lora.settings.Radio. Imported only by nodes and bridges that use LoRa,
# and `lora` only when the modem is first used.
import machine

SPI_BUS = 1  # any of the ESP32's two free SPI peripherals: pins go through the GPIO matrix
SPI_BAUD = 2000000


def make_spi(pins, bus=SPI_BUS):
    Pin = machine.Pin
    return machine.SPI(bus, baudrate=SPI_BAUD, polarity=0, phase=0, sck=Pin(pins["sck"]),
                       mosi=Pin(pins["mosi"]), miso=Pin(pins["miso"]))


def _pin(n, mode):
    return None if n is None else machine.Pin(n, mode)


def make_modem(radio, spi=None, lora_cfg=None):
    """The driver for one firmware.lora.settings.Radio, on its own SPI bus or the given one
    (a bridge's modems share one: bridge_modems())."""
    import lora  # type: ignore[import-not-found]
    Pin = machine.Pin
    p = radio.pins
    if spi is None:
        spi = make_spi(p)
    cs = Pin(p["cs"], Pin.OUT, value=1)
    reset = _pin(p["reset"], Pin.OUT)
    dio = _pin(p["dio"], Pin.IN)
    if radio.modem == "sx1276":
        return lora.SX1276(spi, cs, dio0=dio, reset=reset, lora_cfg=lora_cfg)
    return lora.SX1262(spi, cs, busy=Pin(p["busy"], Pin.IN), dio1=dio, reset=reset,
                       dio3_tcxo_millivolts=radio.tcxo_mv or None, lora_cfg=lora_cfg)


class LazyModem:
    """A node's modem, set up on first use: a bin node that wakes, measures
    and has nothing to report never powers the radio's SPI or resets it."""

    def __init__(self, radio):
        self.radio = radio
        self.modem = None

    def _get(self):
        if self.modem is None:
            self.modem = make_modem(self.radio, make_spi(self.radio.pins))
        return self.modem

    def configure(self, cfg):
        self._get().configure(cfg)

    def send(self, packet):
        return self._get().send(packet)

    def start_recv(self, timeout_ms=None, continuous=False, rx_length=0xFF):
        return self._get().start_recv(timeout_ms, continuous, rx_length)

    def poll_recv(self, rx_packet=None):
        return self._get().poll_recv(rx_packet)

    def standby(self):
        self._get().standby()

    def sleep(self):
        self._get().sleep()


def bridge_modems(radios):
    """One driver per firmware.lora.settings.Radio; radios sharing SPI pins share the bus."""
    buses = {}  # type: dict[tuple, object]
    out = []
    for radio in radios:
        key = (radio.pins["sck"], radio.pins["mosi"], radio.pins["miso"])
        if key not in buses:
            buses[key] = make_spi(radio.pins, SPI_BUS + len(buses))
        out.append(make_modem(radio, buses[key]))
    return out
