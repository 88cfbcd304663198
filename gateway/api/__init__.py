"""People's HTTP API: FastAPI under uvicorn on the gateway's own asyncio
loop. It reads through storage and the domain services (waste, lighting),
checks every request against the role table (gateway/accounts.py), answers
every error as an RFC 9457 problem, and streams new reports live. Only the
gateway's app (gateway/app.py) imports it."""
