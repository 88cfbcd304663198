"""A district for people's screens: a running gateway given streets, bins and
poles with a few days of reports (some full, some about to be, some in
alarm, some silent) and an account of every role, so that the web app has
everything to show. The browser tests and the web benchmark stand on it;
the reports come over CoAP as nodes send them."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiocoap

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.accounts import hash_password
from gateway.coap.client import register_nodes, send_selftest
from gateway.records import SelfTest
from gateway.storage.store import Store
from sim.district import DEFAULT_CENTRE, District, build, offset
from sim.gateway_process import technician_for

PASSWORD = "district demo password"
# (user name, role, crew)
ACCOUNTS = (("admin", "admin", None), ("operator", "operator", None),
            ("planner", "planner", None), ("technician", "technician", None),
            ("crew", "crew", "truck-1"))
# Streets 80 m apart, as the simulated district's bins stand (sim/district.py).
GRID_M = 80.0
HALF_M = 520.0
POLE_FOLD_M = 480.0
POLE_SPACING_M = 30.0
HOUR = 3600


@dataclass
class ScreensDistrict:
    district: District
    # What the reports made of the bins and poles, for the tests to expect.
    bins_reporting: int = 0
    bins_alarmed: set[str] = field(default_factory=set)
    poles_reporting: int = 0
    # Self-tests the technicians' laptops gave the gateway: node id -> result.
    selftests: dict[str, SelfTest] = field(default_factory=dict)
    accounts: tuple[tuple[str, str, str | None], ...] = ACCOUNTS
    password: str = PASSWORD


def streets_geojson(pole_rows: int, centre: tuple[float, float] = DEFAULT_CENTRE) -> str:
    """A grid of named streets over the district: east-west every 80 m where
    the bins stand, the poles' rows between them, and north-south avenues."""
    lat0, lon0 = centre
    features = []

    def line(name: str, points: list[tuple[float, float]]) -> None:
        coords = [[round(lon, 7), round(lat, 7)]
                  for lat, lon in (offset(lat0, lon0, e, n) for e, n in points)]
        features.append({"type": "Feature", "properties": {"name": name},
                         "geometry": {"type": "LineString", "coordinates": coords}})

    rows = int(HALF_M // GRID_M)
    for i in range(2 * rows + 1):
        north = (i - rows) * GRID_M
        line(f"Gata {i + 1}", [(-HALF_M, north), (HALF_M, north)])
    for row in range(pole_rows):
        north = -120.0 + row * GRID_M
        line(f"Ljusgatan {row + 1}", [(-POLE_FOLD_M / 2, north), (POLE_FOLD_M / 2, north)])
    for i, east in enumerate(range(-480, 481, 160)):
        line(f"Allén {i + 1}", [(float(east), -HALF_M), (float(east), HALF_M)])
    return json.dumps({"type": "FeatureCollection", "features": features})


def make_accounts(db: Path) -> None:
    with Store(db) as store:
        hashed = hash_password(PASSWORD)
        for name, role, crew in ACCOUNTS:
            if store.user(name) is None:
                store.add_user(name, role, crew, hashed)


async def send_reports(gateway: tuple[str, int], posts: list[tuple[str, str, bytes]]) -> int:
    """Each (kind, node, payload) as a confirmable POST; how many were stored."""
    host, port = gateway
    ctx = await aiocoap.Context.create_client_context()
    gate = asyncio.Semaphore(32)
    try:
        async def one(kind: str, node: str, payload: bytes) -> bool:
            async with gate:
                req = aiocoap.Message(code=aiocoap.POST, payload=payload,
                                      uri=f"coap://{host}:{port}/{kind}/{node}")
                answer = await ctx.request(req).response
                return bool(answer.code.is_successful())
        done = await asyncio.gather(*(one(*p) for p in posts))
    finally:
        await ctx.shutdown()
    return sum(done)


def populate(db: Path, gateway: tuple[str, int], bins: int = 40, lights: int = 24,
             seed: int = 7, now: float | None = None) -> ScreensDistrict:
    """Streets, nodes, reports and accounts on the gateway at `gateway`
    whose database is `db`. The nodes have no keys and report unprotected:
    the gateway must run with `--oscore optional`."""
    now = time.time() if now is None else now
    rng = random.Random(seed)
    district = build(bins, lights, 1.0, seed=seed, pole_spacing_m=POLE_SPACING_M,
                     street_fold_m=POLE_FOLD_M)
    out = ScreensDistrict(district)
    with Store(db) as store:
        rows = math.ceil(lights * POLE_SPACING_M / POLE_FOLD_M) if lights else 0
        store.save_streets(streets_geojson(rows), "screens district")
    asyncio.run(register_nodes(gateway[0], gateway[1], district.nodes(),
                               technician=technician_for(db)))
    make_accounts(db)
    posts: list[tuple[str, str, bytes]] = []
    start = int(now) - 3 * 24 * HOUR
    for i, b in enumerate(district.bins):
        if i % 10 == 9:
            continue  # never heard from: offline
        out.bins_reporting += 1
        flags, battery = 0, 3600
        if i % 10 == 3:
            flags = codec.BIN_FLAG_FIRE if i % 20 == 3 else codec.BIN_FLAG_TILT
            out.bins_alarmed.add(b.node_id)
        if i % 10 == 5:
            battery = 3150
            out.bins_alarmed.add(b.node_id)
        # Every four hours over three days, emptied when over 90 %.
        fill = b.initial_fill_pct
        for seq, t in enumerate(range(start, int(now) - 600, 4 * HOUR), start=1):
            fill += b.fill_rate_pct_per_h * 4 * rng.uniform(0.6, 1.4)
            if fill > 92:
                fill = rng.uniform(0, 8)
            last = t + 4 * HOUR > int(now) - 600
            posts.append(("b", b.node_id, codec.encode_bin_report(codec.BinReport(
                seq, t, round(fill, 1), 18, battery, 0, flags if last else 0))))
    for i, p in enumerate(district.poles):
        if i % 8 == 7:
            continue  # silent: offline
        out.poles_reporting += 1
        level = (10, 30, 100, 60)[i % 4]
        posts.append(("s", p.node_id, light_codec.encode_status(
            light_codec.Status(1, int(now) - 120, level, 40 + i))))
    stored = asyncio.run(send_reports(gateway, posts))
    if stored != len(posts):
        raise RuntimeError(f"the gateway stored {stored} of {len(posts)} reports")
    # Self-tests as the technicians' laptops give them: most passed on the
    # build at hand, one bin's sensor failed where its Wi-Fi is weak.
    firmware = "3f9a2c1d4e5f"
    for i, b in enumerate(district.bins[:6]):
        failed = ("sensor",) if i == 4 else ()
        out.selftests[b.node_id] = SelfTest(int(now) - (i + 1) * 7 * HOUR, not failed, failed,
                                            firmware, -84 if failed else -58 - i)
    for p in district.poles[:2]:
        out.selftests[p.node_id] = SelfTest(int(now) - 30 * HOUR, True, (), firmware, -63)

    async def give() -> None:
        technician = technician_for(db)
        for node_id, result in out.selftests.items():
            await send_selftest(gateway[0], gateway[1], node_id, result, technician=technician)
    asyncio.run(give())
    return out
