# The presence flags: what a presence sensor's triggered() gives (the hal's
# contract, firmware/hal/__init__.py) and what a presence event carries on the
# wire (firmware/lighting/payload.py). Here so that the sensor drivers and the
# light node's payloads share them without importing each other.

PRESENCE_SOURCE_PIR = 0x01
PRESENCE_SOURCE_RADAR = 0x02
PRESENCE_DIR_UP = 0x04  # moving towards higher pole numbers along the street
PRESENCE_DIR_DOWN = 0x08
PRESENCE_FLAGS_KNOWN = 0x0F
