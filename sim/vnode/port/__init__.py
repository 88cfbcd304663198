"""The simulated ESP32 port's modules (machine, network, esp32, socket, ...):
MicroPython code that the virtual node's VM imports at every boot, as the
ESP32's own C modules are there from boot. Like the firmware, each file is
MicroPython and opts out of CPython's type check (`# mypy: ignore-errors`)."""
