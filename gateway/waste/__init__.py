"""Waste: the bin-type catalogue, importing a city's bins, each bin's fill
forecast, the daily plan, bins as stops, the crews' routes (PyVRP) and what
crews get (route sheets, GPX, GeoJSON, the MQTT crew message).

May import: gateway.records, gateway.storage. Never gateway.lighting."""
