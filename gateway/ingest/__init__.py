"""Ingest: one pipeline for every uplink, whatever carried it (UDP or LoRa):
decode, check the node, react before the disk (the light wave), store by group
commit, publish.

May import: gateway.records, gateway.storage, gateway.publish, the firmware's
payload codecs. Reactions such as lighting are handed in through a small
interface, so ingest never imports gateway.lighting or gateway.waste."""
