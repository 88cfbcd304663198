"""Publishing to the rest of the city: accepted reports and lighting counts
over MQTT (paho-mqtt), as topics and JSON bodies.

May import: gateway.records and the firmware's payload constants. Never
gateway.waste or gateway.lighting."""
