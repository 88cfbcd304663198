"""CoAP, the gateway's side: aiocoap resources that only translate between CoAP
messages and the ingest pipeline or the registry, and the gateway's CoAP client
(registering nodes with a running gateway).

May import: gateway.ingest, gateway.records, gateway.config, the firmware's wire
vocabulary. Never gateway.waste or gateway.lighting: what a report sets off is
the pipeline's business."""
