"""A city platform's NGSI-LD queries over real HTTP: a real gateway process
with the API benchmark's district in its database (10,000 bins, each with a
week of reports, and 5,000 light poles, bench/api.py), asked without an
account for the WasteContainers over 80 % full within 1 km of a point
(`q=fillingLevel>0.8`, `georel=near;maxDistance==1000`), one request after
another, the point moving over the district.

The first answer, which also makes the district's entities, is counted apart
(a line of its own) and left out of the percentiles."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from bench.api import BINS, _fill, _percentile
from bench.report import line
from sim.gateway_process import start_gateway_on_free_ports, stop_gateway

REQUESTS = 500
P99_TARGET_MS = 200.0


def _query(k: int) -> dict[str, str]:
    # The bins stand on a 100 x 100 grid from (60.60, 17.10), 0.001° apart.
    lat = 60.60 + 0.01 + (k * 37 % 80) * 0.001
    lon = 17.10 + 0.01 + (k * 53 % 80) * 0.001
    return {"type": "WasteContainer", "q": "fillingLevel>0.8",
            "georel": "near;maxDistance==1000", "geometry": "Point",
            "coordinates": f"[{lon:.4f},{lat:.4f}]", "limit": "1000", "count": "true"}


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "gateway.sqlite"
        _fill(db, time.time())
        started = start_gateway_on_free_ports(db, "--oscore", "optional", virtual_time=False)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{started.http_port}",
                              timeout=60) as client:
                t0 = time.perf_counter()
                first = client.get("/ngsi-ld/v1/entities", params={
                    "type": "WasteContainer", "limit": "0", "count": "true"})
                cold_ms = (time.perf_counter() - t0) * 1000
                assert first.status_code == 200, first.text
                assert first.headers["NGSILD-Results-Count"] == str(BINS), first.headers
                times: list[float] = []
                found: list[int] = []
                for k in range(REQUESTS):
                    t0 = time.perf_counter()
                    r = client.get("/ngsi-ld/v1/entities", params=_query(k))
                    times.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200, r.text
                    found.append(int(r.headers["NGSILD-Results-Count"]))
                assert max(found) > 0, "no bin over 80 % near any point asked about"
        finally:
            stop_gateway(started.proc)
    return [
        line(f"ngsi.near_full_p99 (of {len(times)}, {min(found)}..{max(found)} bins each)",
             _percentile(times, 99), "ms", "<", P99_TARGET_MS),
        line("ngsi.near_full_p50", _percentile(times, 50), "ms", "<", P99_TARGET_MS),
        line("ngsi.first_answer", cold_ms, "ms", "<", 10_000),
    ]
