"""Publishing accepted reports to an MQTT broker, which is how the rest of the
city sees a district's data. Presence leaves the gateway only as counts per
zone and interval (gateway/lighting/service.py): a pole's events, with their
times and speeds, would let a walker be followed from pole to pole, so they
are never published one by one.

The broker may be reached over TLS (a CA file, optionally a client
certificate) with a username and password; while it is away, at most
queue_max messages wait, and those beyond are dropped, counted and logged."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from gateway.records import BinRecord, PresenceRecord, Record, StatusRecord

log = logging.getLogger("gateway.mqtt")


def topic_for(prefix: str, district: str, record: Record) -> str | None:
    """The record's topic; None for what is never published by itself (a
    pole's presence event: it goes out only in its zone's counts)."""
    if isinstance(record, BinRecord):
        return f"{prefix}/{district}/bin/{record.node_id}/report"
    if isinstance(record, StatusRecord):
        return f"{prefix}/{district}/light/{record.node_id}/state"
    return None


def payload_for(record: BinRecord | StatusRecord) -> bytes:
    if isinstance(record, BinRecord):
        r = record.report
        body = {"node": record.node_id, "seq": r.seq, "measured_at": record.measured_at,
                "received_at": record.received_at, "fill_pct": r.fill_pct,
                "temp_c": r.temp_c, "battery_mv": r.battery_mv, "tilt_deg": r.tilt_deg,
                "flags": r.flags}
    else:
        st = record.status
        body = {"node": record.node_id, "seq": st.seq, "measured_at": record.measured_at,
                "received_at": record.received_at, "level_pct": st.level_pct,
                "energy_wh": st.energy_dwh / 10, "night": bool(st.flags & 0x01),
                "offline": bool(st.flags & 0x02), "lux": st.lux}
    return json.dumps(body).encode()


@dataclass(frozen=True)
class BrokerAccess:
    """How the gateway reaches its broker: TLS when ca_file is given (with a
    client certificate and key if the broker asks for one), and a username
    and password when given."""
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def apply(self, client: mqtt.Client) -> None:
        if self.ca_file is not None:
            client.tls_set(ca_certs=str(self.ca_file),
                           certfile=None if self.cert_file is None else str(self.cert_file),
                           keyfile=None if self.key_file is None else str(self.key_file))
        if self.username is not None:
            client.username_pw_set(self.username, self.password)


# Messages kept for a broker that is away, unless configured (mqtt_queue_max).
QUEUE_MAX = 10000


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
    reconnects by itself, so a broker restart loses nothing already queued,
    up to queue_max messages; what comes beyond is dropped and counted (the
    reports themselves are in the database)."""

    def __init__(self, host: str, port: int, prefix: str, district: str,
                 access: BrokerAccess | None = None, queue_max: int = QUEUE_MAX) -> None:
        self.prefix = prefix
        self.district = district
        self.queue_max = queue_max
        self.dropped = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"kvarter-gateway-{district}")
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        (access or BrokerAccess()).apply(self.client)
        # Keep retrying a broker that is away, but never wait more than 30 s
        # once it is back. Queued QoS 1 messages go out on reconnection.
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.max_queued_messages_set(queue_max)
        self.client.connect_async(host, port)
        self.client.loop_start()
        self._lock = threading.Lock()
        self._pending: dict[int, mqtt.MQTTMessageInfo] = {}
        self._acked_early: set[int] = set()

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason: ReasonCode, properties: object) -> None:
        log.info("MQTT broker: %s", reason)

    def publish(self, record: Record) -> None:
        topic = topic_for(self.prefix, self.district, record)
        if topic is not None and not isinstance(record, PresenceRecord):
            self._send(topic, payload_for(record))

    def publish_light(self, path: str, body: dict[str, object]) -> None:
        """Under <prefix>/<district>/light/: per-zone counts and energy."""
        self._send(f"{self.prefix}/{self.district}/light/{path}", json.dumps(body).encode())

    def publish_state(self, topic: str, payload: bytes) -> bool:
        """A thing's latest state, retained, so that a subscriber that comes
        later gets it at once (the NGSI-LD entities, gateway/publish/ngsi_ld.py).
        False, and nothing sent, while half the queue is taken: the reports'
        own messages keep the other half, and the caller offers it again."""
        if len(self._pending) >= self.queue_max // 2:
            return False
        return self._send(topic, payload, retain=True)

    def _send(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.dropped += 1
            log.warning("MQTT broker away and %d messages waiting: one dropped "
                        "(%d so far); the reports are in the database", self.queue_max,
                        self.dropped)
            return False
        with self._lock:
            if info.mid in self._acked_early:
                self._acked_early.discard(info.mid)
            else:
                self._pending[info.mid] = info
        return True

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                    reason: object, properties: object) -> None:
        # The broker has it (paho's network thread). A message published
        # while the broker was away keeps its "no connection" code in paho
        # even once delivered, so delivery is known from here, not from it.
        with self._lock:
            if self._pending.pop(mid, None) is None:
                self._acked_early.add(mid)

    @property
    def waiting(self) -> int:
        """Messages handed to paho and not yet acknowledged by the broker."""
        return len(self._pending)

    def close(self, timeout: float = 2.0) -> None:
        """Give the broker a moment for what is waiting, then disconnect."""
        deadline = time.monotonic() + timeout
        while self._pending and self.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
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
