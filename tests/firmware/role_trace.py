# Runs one node as the node runs it (role and transport from ROLE_CASE) on the
# fake hardware layer, through a wake or a detection, the gateway's requests
# and a status, then prints the firmware modules that were loaded (one JSON
# line). tests/test_firmware_layout.py runs it in CPython and in the
# MicroPython VM to check that a node loads only its own role's code.
import json
import sys

from fakehal import FakeHal, FakeModem

from firmware import settings


def run(role, transport):
    raw = {"id": "N0001", "role": role, "transport": transport}
    if transport == "wifi":
        raw["gateway_host"] = "10.0.0.1"
    cfg = settings.Config(raw)
    hal = FakeHal()
    if transport == "lora":  # as firmware/hal/esp32.py wires a LoRa node
        from firmware.lora.net import LoraNet
        hal.net = LoraNet(FakeModem(hal.clock), cfg.node_id, hal.clock, hal.log,
                          listen=role == "light")
    if role == "bin":
        from firmware.waste.node import BinNode
        node = BinNode(cfg, hal)
        node.wake()
        node.send()
        node.poll()
        hal.clock.advance(60000)
        node.poll()
        node.sleep()
    else:
        from firmware.lighting import payload
        from firmware.lighting.node import LightNode
        from firmware.proto import coap
        node = LightNode(cfg, hal)
        hal.presence.trigger()
        node.poll()
        for path, body in (("c", payload.encode_brighten(payload.Brighten(7, 100, 30))),
                           ("z", payload.encode_profile(payload.Profile(1, 30, 100, 60, 10, 30,
                                                                        50, 15)))):
            request = coap.Message(coap.CON, coap.POST, 9, b"", [(coap.OPT_URI_PATH,
                                                                  path.encode())], body)
            if transport == "lora":
                hal.net.modem.inbox.append(coap.encode(request))
            else:
                hal.net.inbox.append(coap.encode(request))
            node.poll()
        hal.clock.advance(3600000)
        node.poll()
    return sorted(m for m in sys.modules if m.startswith("firmware"))


role, transport = ROLE_CASE.split("/")  # noqa: F821 (set by whoever runs this file)
print(json.dumps({"case": ROLE_CASE, "modules": run(role, transport)}))  # noqa: F821
