"""Light states, presence counts per zone and energy reach a real mosquitto
broker; counts only, nothing about a person."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

from conftest import launch_gateway, subscriber
from lightkit import FakeLight, wait_for_addresses

from gateway.privacy import last_closed
from gateway.records import Node


def test_counts_per_zone_states_and_energy_are_published(tmp_path: Path, mosquitto: int) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\ndistrict = "norrmalm"\nlight_interval_s = 0.5\n')
    client, inbox = subscriber(mosquitto, "kvarter/norrmalm/light/#")
    gw = launch_gateway(tmp_path, "--config", str(config), "--mqtt", "127.0.0.1",
                        "--mqtt-port", str(mosquitto))
    fakes = []
    try:
        gw.register(Node("A1", "light", 59.33, 18.06, "park"),
                    Node("A2", "light", 59.33, 18.06, "park"),
                    Node("B1", "light", 59.33, 18.07, "harbour"))
        fakes = [FakeLight(n, gw) for n in ("A1", "A2", "B1")]
        fakes[0].status(1, level=20, energy_dwh=1000)
        wait_for_addresses(gw.db, 1)
        # Measured in the quarter hour before this one: counts go out only
        # for intervals already over.
        at = last_closed(time.time()) - 600
        fakes[0].presence(1, count=2, at=at)
        fakes[0].presence(2, count=4, at=at + 60)
        fakes[1].presence(1, count=1, at=at)
        fakes[2].presence(1, count=4, at=at)
        fakes[0].status(2, level=100, energy_dwh=1015)
        counts: dict[str, object] = {}
        # Park: 7 detections in 3 events, 6 of them at one pole: 6 people
        # at least. Harbour: 4 people, under the threshold of 5: suppressed.
        # (Counts published before the last events were stored are
        # published again as they change.)
        q0 = at - at % 900
        expected = {
            "park": {"zone": "park", "from": q0, "to": q0 + 900, "suppressed": False,
                     "people": 6, "events": 3, "detections": 7},
            "harbour": {"zone": "harbour", "from": q0, "to": q0 + 900, "suppressed": True,
                        "people": None, "events": None, "detections": None}}
        energy_wh = 0.0
        state = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (
                counts != expected or energy_wh < 1.5 or state is None):
            try:
                msg = inbox.get(timeout=1)
            except queue.Empty:
                continue
            body = json.loads(msg.payload)
            assert not msg.topic.endswith("/presence"), msg.topic  # never per pole
            if msg.topic.endswith("/counts"):
                zone = msg.topic.split("/")[-2]
                assert set(body) == {"zone", "from", "to", "suppressed", "people", "events",
                                     "detections"}
                assert body["zone"] == zone and body["to"] - body["from"] == 900
                assert body["from"] % 900 == 0 and body["to"] <= time.time()
                if body["from"] == at - at % 900:
                    counts[zone] = body
            elif msg.topic == "kvarter/norrmalm/light/zones/park/energy" and body["wh"]:
                energy_wh += body["wh"]
            elif msg.topic == "kvarter/norrmalm/light/A1/state" and body["seq"] == 2:
                state = body
        assert counts == expected
        assert energy_wh == 1.5  # 1015 - 1000 tenths of a Wh
        assert state is not None and state["level_pct"] == 100 and state["energy_wh"] == 101.5
        assert state["night"] is True and state["offline"] is False
    finally:
        for f in fakes:
            f.close()
        assert gw.stop() == 0
        client.loop_stop()
        client.disconnect()
