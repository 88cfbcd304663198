"""Raw presence events are deleted by the gateway itself once older than
presence_keep_days (docs/privacy.md): in batches, the newer ones kept, and
the zone effect asked to replay more days than are kept says so."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from conftest import launch_gateway
from lightkit import FakeLight, lights_cli

from firmware import codec
from gateway.config import GatewayConfig, GatewayConfigError
from gateway.records import Node, PresenceRecord
from gateway.retention import BATCH, PresenceRetention
from gateway.storage.store import Store

DAY = 86400


def _events(store: Store, node_id: str, times: list[int]) -> None:
    store.insert([PresenceRecord(node_id, codec.PresenceEvent(seq, t, 1, 100, 1.4), t + 0.5)
                  for seq, t in enumerate(times, start=1)])


def _stored(db: Path) -> list[int]:
    with Store(db) as store:
        return sorted(t for _, t, _, _, _ in store.presence_since(0))


def test_events_past_their_days_go_in_batches_and_the_rest_stay(tmp_path: Path) -> None:
    now = 1_796_000_000
    old = [now - 8 * DAY + i for i in range(2 * BATCH + 7)]  # three batches
    kept = [now - 6 * DAY, now - DAY, now - 60]
    with Store(tmp_path / "g.sqlite") as store:
        store.register(Node("L1", "light", 59.33, 18.06, "park"))
        _events(store, "L1", old + kept)
        retention = PresenceRetention(store, keep_days=7)
        assert asyncio.run(retention.purge(now)) == len(old)
        assert asyncio.run(retention.purge(now)) == 0
        assert sorted(t for _, t, _, _, _ in store.presence_since(0)) == kept
        assert retention.deleted == len(old)


def test_the_running_gateway_deletes_old_presence_itself(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[gateway]\npresence_keep_days = 2\n")
    gw = launch_gateway(tmp_path, "--config", str(config), virtual_time=False)
    now = int(time.time())
    try:
        gw.register(Node("L1", "light", 59.33, 18.06, "park"))
        pole = FakeLight("L1", gw)
        try:
            # As a pole that was away sends what it measured: three days
            # old (accepted: within max_report_age_s), then one of today.
            pole.presence(1, at=now - 3 * DAY)
            pole.presence(2, at=now - 60)
        finally:
            pole.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(_stored(gw.db)) < 2:
            time.sleep(0.1)
        assert _stored(gw.db) == [now - 3 * DAY, now - 60]
    finally:
        assert gw.stop() == 0
    # The gateway purges when it starts and then every few minutes: the
    # next start takes the three-day-old event away and keeps today's.
    gw = launch_gateway(tmp_path, "--config", str(config), virtual_time=False)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(_stored(gw.db)) > 1:
            time.sleep(0.1)
        assert _stored(gw.db) == [now - 60]
    finally:
        assert gw.stop() == 0
    # Replaying more days than are kept is refused with what to ask instead.
    proc = lights_cli(gw.db, "zone", "effect", "park", "--days", "5", "--config", str(config))
    assert proc.returncode != 0
    assert "only 2 days of presence events are kept" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("presence_interval_s", 600, "quarter hours"),
    ("presence_interval_s", 1000, "quarter hours"),
    ("presence_min_count", 1, "2..1000"),
    ("presence_keep_days", 0, "days from 1"),
    ("presence_keep_days", True, "days from 1"),
])
def test_privacy_settings_that_would_weaken_it_are_refused(
        setting: str, value: object, says: str) -> None:
    with pytest.raises(GatewayConfigError, match=says):
        GatewayConfig(**{setting: value})  # type: ignore[arg-type]
