"""A virtual district whose nodes run the real firmware on a simulated hardware
layer, against a real gateway over loopback UDP or a simulated LoRa channel,
in virtual time: one clock and one event queue (engine.py), one hardware
layer (hal.py), and the scenarios built on them (the district day, the LoRa
district, the night scene, the demo, weeks of waste).

May import the firmware and the gateway; never tools/."""
