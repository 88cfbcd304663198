"""The district gateway: receives node reports over CoAP, stores them in SQLite,
publishes them over MQTT, and keeps the registry of known nodes."""
