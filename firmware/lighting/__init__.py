# The light node: lamp, sun times, presence and status payloads, its settings,
# the gateway's requests to a pole. Imports nothing of firmware.waste.
