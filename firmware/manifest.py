# What goes onto a node's flash, in MicroPython's manifest syntax (see
# "MicroPython manifest files" in MicroPython's docs). One list for every way
# the code reaches a node:
# - `kvarter node deploy` and `kvarter node build` (`make firmware`) compile
#   these files with mpy-cross and copy them to the node's filesystem
#   (tools/firmware_build.py reads this file); bench/node.py measures them;
# - a firmware image with them frozen into flash (their code then stays out
#   of the heap), from a MicroPython checkout's ports/esp32:
#     make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/kvarter/firmware/manifest.py
# Host-only modules are left out: energy.py (the battery model, for
# `kvarter node battery`) and codec.py (every payload under one name, for the
# gateway).

# A frozen image keeps the port's own frozen modules (_boot, ntptime, ...) and
# takes micropython-lib's LoRa drivers (firmware/hal/lora_modem.py); deploy
# copies only our files and leaves these to the image or to mip.
include("$(PORT_DIR)/boards/manifest.py")
require("lora-sync")
require("lora-sx126x")
require("lora-sx127x")

# The entry point: deploy copies it to the flash's root as source, where
# MicroPython runs it at boot.
module("main.py")

package("firmware", base_path="..",
        files=["__init__.py", "checks.py", "settings.py", "selftest.py"])
package("firmware/proto", base_path="..")
package("firmware/net", base_path="..")
package("firmware/oscore", base_path="..")
package("firmware/lora", base_path="..")
package("firmware/waste", base_path="..")
package("firmware/lighting", base_path="..")
package("firmware/hal", base_path="..")  # with hal/drivers/
