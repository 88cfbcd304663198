# Entry point on the node: copied to the root of the node's flash as main.py.
import time

import machine

from firmware import settings
from firmware.hal.esp32 import Hal

# Each role imports its own package only (firmware/waste/ or
# firmware/lighting/): a node's heap holds the code of the role it runs.


def run_bin(cfg, hal):
    from firmware.waste.node import BinNode

    wdt = machine.WDT(timeout=60000)  # a hung wake must not drain the battery
    node = BinNode(cfg, hal)
    # Measure first: the radio is switched on only when there is something to
    # send -- a new report, or older ones still queued in flash (most wakes
    # there is nothing).
    if node.wake():
        if hal.connect(cfg):
            node.send()
            while node.poll():
                wdt.feed()
                time.sleep_ms(20)
        else:
            node.unsent("no Wi-Fi")
    hal.deep_sleep(node.sleep())


def run_light(cfg, hal):
    # The lamp comes on at its idle level before anything that can fail; a
    # hang or a crash stops feeding the watchdog, and the reset lights it again.
    hal.led.set_pct(cfg.idle_pct)
    wdt = machine.WDT(timeout=30000)
    from firmware.lighting.node import LightNode

    # The node never waits for Wi-Fi or the gateway: hal.net connects in the
    # background and drops what it cannot send meanwhile.
    node = LightNode(cfg, hal)
    while True:
        node.poll()
        wdt.feed()
        time.sleep_ms(20)


def run_bridge(cfg):
    # Imported only here: a node's heap has no room for the bridge's code.
    from firmware.hal import lora_modem
    from firmware.hal.esp32 import Clock
    from firmware.hal.usb_serial import UsbSerial
    from firmware.lora.bridge import Bridge, RingLog

    bridge = Bridge(cfg.receivers, lora_modem.bridge_modems(cfg.radios), UsbSerial(), Clock(),
                    RingLog())
    wdt = machine.WDT(timeout=30000)
    while True:
        bridge.poll()
        wdt.feed()
        time.sleep_ms(1)


def main():
    cfg = settings.load()
    if cfg.role == "bridge":
        run_bridge(cfg)
        return
    hal = Hal(cfg)
    if cfg.role == "bin":
        run_bin(cfg, hal)
    else:
        run_light(cfg, hal)


main()
