"""The district gateway: receives node reports over CoAP (UDP, or LoRa through
a radio bridge), stores them in SQLite, publishes them over MQTT, plans the
crews' routes and runs the street lights' wave.

    app.py       start and stop in order
    config.py    settings: defaults, a TOML file, command-line overrides
    records.py   nodes and what they report, as plain data
    registry.py  the nodes the gateway knows, and registering them
    ingest/      one pipeline for every uplink: decode, check, react, store, publish
    coap/        aiocoap resources that only translate; the gateway's CoAP client
    radio/       the radio bridge's serial line, LoRa frames as CoAP, the downlink
    storage/     SQLite: one connection, numbered migrations, a module per record
    publish/     MQTT
    waste/       bins, forecast, daily plan, routes, what crews get
    lighting/    streets, zones, the light wave, energy, commands to poles

May import the firmware's wire code (one codec at both ends); never sim/ or
tools/. Waste and lighting never import each other; coap, radio, storage,
ingest and publish import neither (checked by `make lint`)."""
