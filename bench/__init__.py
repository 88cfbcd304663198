"""Benchmarks: `make bench` runs every group, `make bench ONLY=<group>` one.

Each target prints one line:
    bench <group>.<name>: <value> <unit> target <op> <value> ok|short
Speeds are given as ratios measured in one run (against bare aiocoap, say),
because the machines these run on are shared and noisy.
"""
