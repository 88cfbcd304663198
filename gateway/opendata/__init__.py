"""The district as open data in the city's own standards: our bins, poles,
zones and nodes as FIWARE Smart Data Models entities (NGSI-LD, ETSI GS CIM
009), and the NGSI-LD query language evaluated over them. Plain data and
decisions: no storage, no web framework; the HTTP API (gateway/api/ngsi_ld.py)
reads the gateway's state, hands it here and serves what comes back."""
