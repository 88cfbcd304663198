# A node's link to the gateway: the transport contract every link inherits,
# and the requests to the gateway over it. Imports firmware.proto only (and
# firmware.lora lazily, in what runs over LoRa).
