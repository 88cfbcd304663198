# The hardware layer: the only part of the firmware that touches pins, buses,
# radios and sleep. Node logic receives an object with these attributes and
# never imports `machine` itself, so the same logic runs on an ESP32
# (firmware.hal.esp32), in the simulator (sim.hal) and in unit tests.
#
#   clock.ms()            monotonic milliseconds, never wraps
#   clock.time()          unix seconds, 0 when the clock has not been set
#   net                   the link to the gateway: a firmware.net.transport.Transport
#                         (send, recv, reply, is_lora, wait_ms, ack_timeout_ms, ...;
#                         over LoRa firmware/lora/net.py); a bin node's may be None
#                         until hal.connect() has brought Wi-Fi up
#   clock.set(unix)       optional: set the time (from the gateway's LoRa feedback)
#   store.load()          bytes kept across deep sleep (RTC memory), b"" if none
#   store.save(data)      keep bytes across deep sleep
#   random_bits(n)        n random bits (int)
#   aes(key)              AES with a 16-byte key, forward cipher only: an object
#                         whose encrypt(block) turns 16 bytes into 16 (ECB), the
#                         block cipher OSCORE's AES-CCM runs on (firmware/oscore/);
#                         cryptolib on the ESP32, the cryptography package in CPython
#   flash_store(name)     bytes kept in flash across power loss under `name`
#                         (load() -> bytes, b"" if none; save(data)): OSCORE's
#                         sequence number and replay window bounds
#                         (firmware/net/secure.py); NVS on the ESP32
#   battery.mv()          battery voltage in millivolts, or None
#   temperature.celsius() temperature inside the bin, or None
# Bin nodes:
#   outbox.load()/save(data)  the queue of reports not yet acknowledged, in flash
#                         (firmware/waste/outbox.py); survives power loss
#   fill_sensor.unit      "us" (ultrasonic echo, there and back) or "mm" (time of flight)
#   fill_sensor.samples(n)  n raw readings in that unit (None for a failed one),
#                         the sensor powered only meanwhile (firmware/hal/drivers/ranger.py)
#   tilt.degrees()        degrees from upright, or None
#   lid.is_open()         True / False, or None without a lid switch
# Light nodes:
#   led.set_pct(level)    drive the lamp at 0..100 % light output (a float)
#   presence.triggered()  0 when nothing new; else once per detection (and again
#                         every retrigger time while someone stays) the presence
#                         flags of firmware/proto/presence.py: source, direction (True: PIR)
#   presence.speed        approach speed in 0.1 m/s, 0 when not measured
#   settings.load()/save(data)  bytes kept in flash across reboots (the zone
#                         profile); optional
#   ambient.lux()         ambient light in lux, or None; optional (no sensor)
