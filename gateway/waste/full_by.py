"""When each bin is expected to be full, for the operator's map: the forecast
learnt from every stored report (gateway/waste/today.py), asked for each
bin's crossing of the level a plan must empty it at.

Learning from a district's week of reports takes seconds of CPU, so the
gateway's HTTP API asks for it in a process of its own (`python -m
gateway.waste.full_by DB`, which writes {node id: unix time or null} as
JSON), never on its event loop nor beside the threads that answer requests."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from gateway.storage.store import Store
from gateway.waste.planning import DEFAULT_PLAN
from gateway.waste.today import forecast_from


def full_by(store: Store) -> dict[str, float | None]:
    """node id -> unix time (UTC) it is expected to reach the plan's must
    level, within two weeks (None: not within them)."""
    f = forecast_from(store)
    out: dict[str, float | None] = {}
    for node_id in f.bins:
        t = f.crossing_time(node_id, DEFAULT_PLAN.must_level_pct)
        out[node_id] = None if t is None or not math.isfinite(t) else round(t, 1)
    return out


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m gateway.waste.full_by DB", file=sys.stderr)
        return 2
    with Store(Path(sys.argv[1])) as store:
        json.dump(full_by(store), sys.stdout, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
