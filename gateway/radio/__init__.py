"""The LoRa path at the gateway: the radio bridge's serial line, LoRa frames to
and from CoAP (through the same resources as UDP), and the downlink scheduler
within the gateway's duty cycle.

May import: gateway.records, gateway.tasks, the firmware's LoRa and CoAP
vocabulary. Never gateway.waste or gateway.lighting."""
