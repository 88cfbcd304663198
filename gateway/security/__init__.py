"""Security at the gateway: each node's OSCORE (RFC 8613) security context,
derived from the key a technician provisioned into the node, with aiocoap's
own OSCORE doing the protection; and where the contexts' sequence numbers and
replay windows are kept.

May import: gateway.records, gateway.storage, aiocoap. Never gateway.waste or
gateway.lighting."""
