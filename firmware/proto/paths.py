# The gateway's CoAP resources (the first Uri-Path segment; a node's own
# requests add its id as the second) and a light node's, in one place for
# both ends. docs/protocol.md describes each.

# Node -> gateway: POST /<path>/<node id>
BIN_PATH = "b"  # a bin report (firmware/waste/payload.py)
PRESENCE_PATH = "p"  # a presence event (firmware/lighting/payload.py)
STATUS_PATH = "s"  # a light node's status

# Gateway -> light node: POST /<path>
BRIGHTEN_PATH = "c"  # a brighten command for this pole or a group
PROFILE_PATH = "z"  # the zone profile, kept in flash
