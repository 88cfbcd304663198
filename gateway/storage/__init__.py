"""Storage in SQLite: the connection and its transactions, the schema's
numbered migrations, and one module per kind of record.

May import: gateway.records and the firmware's payload constants. Never
gateway.waste or gateway.lighting, nor anything that speaks a protocol."""
