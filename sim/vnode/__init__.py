"""The virtual ESP32 node's host (Node.js: host.mjs and the chip in vm.mjs)
and its simulated port (port/); started by sim/virtual_node.py."""
