"""Street lighting: streets and poles on them, zones (levels, hold, hours,
night steps), the light wave that brightens poles ahead of people, its energy,
the commands and profiles sent to poles, and the lighting service that runs in
the gateway.

May import: gateway.records, gateway.storage, gateway.coap (its client), the
firmware's light payloads and astro. Never gateway.waste."""
