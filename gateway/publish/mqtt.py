"""Publishing accepted reports to an MQTT broker, which is how the rest of the
city sees a district's data. Presence is published as counts only: per event
of a pole, and per zone and interval (gateway/lighting/service.py)."""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from gateway.records import BinRecord, PresenceRecord, Record, StatusRecord

log = logging.getLogger("gateway.mqtt")


def topic_for(prefix: str, district: str, record: Record) -> str:
    if isinstance(record, BinRecord):
        return f"{prefix}/{district}/bin/{record.node_id}/report"
    if isinstance(record, StatusRecord):
        return f"{prefix}/{district}/light/{record.node_id}/state"
    return f"{prefix}/{district}/light/{record.node_id}/presence"


def payload_for(record: Record) -> bytes:
    if isinstance(record, BinRecord):
        r = record.report
        body = {"node": record.node_id, "seq": r.seq, "measured_at": record.measured_at,
                "received_at": record.received_at, "fill_pct": r.fill_pct,
                "temp_c": r.temp_c, "battery_mv": r.battery_mv, "tilt_deg": r.tilt_deg,
                "flags": r.flags}
    elif isinstance(record, StatusRecord):
        st = record.status
        body = {"node": record.node_id, "seq": st.seq, "measured_at": record.measured_at,
                "received_at": record.received_at, "level_pct": st.level_pct,
                "energy_wh": st.energy_dwh / 10, "night": bool(st.flags & 0x01),
                "offline": bool(st.flags & 0x02), "lux": st.lux}
    else:
        assert isinstance(record, PresenceRecord)
        e = record.event
        body = {"node": record.node_id, "seq": e.seq, "measured_at": record.measured_at,
                "received_at": record.received_at, "count": e.count,
                "level_pct": e.level_pct, "speed_mps": e.speed_mps}
    return json.dumps(body).encode()


class Publisher(Protocol):
    def publish(self, record: Record) -> None: ...
    def publish_light(self, path: str, body: dict[str, object]) -> None: ...
    def close(self) -> None: ...


class NoPublisher:
    def publish(self, record: Record) -> None:
        pass

    def publish_light(self, path: str, body: dict[str, object]) -> None:
        pass

    def close(self) -> None:
        pass


class MqttPublisher:
    """QoS 1 publishing. paho queues messages while the broker is away and
    reconnects by itself, so a broker restart loses nothing already queued."""

    def __init__(self, host: str, port: int, prefix: str, district: str) -> None:
        self.prefix = prefix
        self.district = district
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"kvarter-gateway-{district}")
        self.client.on_connect = self._on_connect
        # Keep retrying a broker that is away, but never wait more than 30 s
        # once it is back. Queued QoS 1 messages go out on reconnection.
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.max_queued_messages_set(0)  # unbounded: the database is the limit
        self.client.connect_async(host, port)
        self.client.loop_start()
        self._pending: deque[mqtt.MQTTMessageInfo] = deque()

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason: ReasonCode, properties: object) -> None:
        log.info("MQTT broker: %s", reason)

    def publish(self, record: Record) -> None:
        self._send(topic_for(self.prefix, self.district, record), payload_for(record))

    def publish_light(self, path: str, body: dict[str, object]) -> None:
        """Under <prefix>/<district>/light/: per-zone counts and energy."""
        self._send(f"{self.prefix}/{self.district}/light/{path}", json.dumps(body).encode())

    def _send(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        # Acknowledged in order: drop the published ones from the front, so
        # that a long queue (broker away) costs nothing per report.
        while self._pending and self._pending[0].is_published():
            self._pending.popleft()
        self._pending.append(info)

    def close(self, timeout: float = 2.0) -> None:
        for info in self._pending:
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                break  # never connected: nothing more can be delivered now
        self.client.disconnect()
        self.client.loop_stop()


class PublishError(RuntimeError):
    """The broker could not be reached; the message says which and why."""


def publish_retained(host: str, port: int, client_id: str,
                     messages: list[tuple[str, bytes]]) -> list[str]:
    """Publish (topic, payload) messages retained at QoS 1 and wait until the
    broker has each of them; returns the topics. A one-off connection, for
    commands (the running gateway keeps its own, MqttPublisher)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    try:
        client.connect(host, port)
    except OSError as e:
        raise PublishError(
            f"MQTT broker {host}:{port} cannot be reached ({e.strerror or e})") from None
    client.loop_start()
    topics = []
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
            topics.append(topic)
    finally:
        client.disconnect()
        client.loop_stop()
    return topics
