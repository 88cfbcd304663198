# OSCORE (RFC 8613) for the node: every exchange between node and gateway
# protected end to end with AES-CCM-16-64-128 and keys from HKDF-SHA256.
# The block cipher is the board's (hal.aes(key), cryptolib's AES on the
# ESP32); everything else here is plain MicroPython:
#
#   ccm.py       AES-CCM (RFC 3610) on a caller's forward block cipher
#   hkdf.py      HMAC-SHA256 and HKDF-SHA256 (RFC 2104, RFC 5869) on hashlib
#   cbor.py      the little CBOR OSCORE needs: key derivation info, external AAD
#   context.py   the security context (RFC 8613 section 3.2), the nonce (5.2)
#   sequence.py  sender sequence numbers that survive deep sleep and power loss
#                (Appendix B.1.1), and the replay window (7.4)
#   message.py   protecting and verifying CoAP requests and responses (5, 8)
#
# Nothing here knows a role, a link or LoRa; it imports firmware.proto only.
