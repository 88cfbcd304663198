"""The running gateway: wires storage, ingest, the writer, MQTT and the CoAP
server together, and shuts them down in order."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections import Counter

import aiocoap

from gateway.coap.resources import build_site
from gateway.config import GatewayConfig
from gateway.ingest.decode import Ingest, Rejected
from gateway.ingest.writer import BatchWriter
from gateway.lighting.service import Lighting
from gateway.lighting.wave import WaveSettings
from gateway.publish.mqtt import MqttPublisher, NoPublisher, Publisher
from gateway.radio.downlink import Downlink
from gateway.radio.lora import LoraLink
from gateway.radio.serial_line import RadioLink
from gateway.records import Node
from gateway.storage.store import PresenceRecord, Store

log = logging.getLogger("gateway")

# On shutdown the gateway keeps serving until no request has come for this
# long (at most DRAIN_MAX_S), so that what is already on its way is stored.
DRAIN_QUIET_S = 0.2
DRAIN_MAX_S = 3.0


class Activity:
    """Requests being handled, and when the last one came."""

    def __init__(self) -> None:
        self.inflight = 0
        self.last = 0.0

    def enter(self) -> None:
        self.inflight += 1
        self.last = time.monotonic()

    def leave(self) -> None:
        self.inflight -= 1
        self.last = time.monotonic()

    async def quiet(self, quiet_s: float, max_s: float) -> None:
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline:
            if self.inflight == 0 and time.monotonic() - self.last >= quiet_s:
                return
            await asyncio.sleep(quiet_s / 4)


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.ingest = Ingest({n.node_id: n for n in self.store.nodes()})
        self.writer = BatchWriter(self.store)
        self.publisher: Publisher = NoPublisher()
        self.context: aiocoap.Context | None = None
        self.activity = Activity()
        self.lighting = Lighting(self.store, self.ingest.nodes, config.bind_host,
                                 WaveSettings(latency_s=config.light_latency_s),
                                 self._publish_light, config.light_interval_s)
        self._site, self._reports = build_site(self)
        self._warned: set[tuple[str, str]] = set()
        self.downlink: Downlink | None = None
        self.lora: LoraLink | None = None
        self.radio: RadioLink | None = None

    @property
    def site(self) -> aiocoap.resource.Site:
        """The CoAP resources; what comes over LoRa is rendered by them too."""
        return self._site

    async def start(self) -> None:
        # aiocoap binds with SO_REUSEPORT by default, which would let a second
        # gateway on the same port silently take half of the traffic. One
        # gateway per port: a second one must fail to start.
        os.environ["AIOCOAP_REUSE_PORT"] = "0"
        self.writer.start()
        if self.config.mqtt_host:
            self.publisher = MqttPublisher(self.config.mqtt_host, self.config.mqtt_port,
                                           self.config.mqtt_prefix, self.config.district)
        await self.lighting.start()
        self.context = await aiocoap.Context.create_server_context(
            self._site, bind=(self.config.bind_host, self.config.port))
        if self.config.radio:
            await self._start_radio(self.config.radio, self.config.radio_baud)
        log.info("gateway for %s listening on coap://%s:%d, data in %s",
                 self.config.district, self.config.bind_host, self.config.port,
                 self.config.db_path)

    async def _start_radio(self, path: str, baud: int) -> None:
        self.downlink = Downlink()
        self.lora = LoraLink(self._site, self.ingest.nodes, self.downlink)
        self.lighting.lora_command = self.lora.command
        self.radio = RadioLink(path, baud, self.lora.on_frame)
        self.downlink.send = self.radio.send
        self.downlink.start()
        await self.radio.start()

    async def register(self, node: Node) -> bool:
        """Raises RegistrationError for a short address another node has."""
        created, node = await asyncio.to_thread(self.store.register_node, node)
        self.ingest.nodes[node.node_id] = node
        if node.role == "light":
            self.lighting.nodes_changed()
        log.info("%s node %s (%s%s)", "registered" if created else "updated", node.node_id,
                 node.role, f", addr {node.addr}" if node.addr is not None else "")
        return created

    def light_presence(self, record: PresenceRecord, sockaddr: tuple[object, ...] | None,
                       now: float) -> None:
        try:
            self.lighting.presence(record, sockaddr, now)
        except Exception as e:  # never let lighting stop a report being stored
            log.error("light wave failed on an event from %s: %s", record.node_id, e)

    def _publish_light(self, path: str, body: dict[str, object]) -> None:
        self.publisher.publish_light(path, body)

    def note_rejection(self, node_id: str, rejection: Rejected) -> None:
        # One log line per node and reason, so a misconfigured node cannot
        # flood the log.
        key = (node_id, rejection.reason.value)
        if key not in self._warned:
            self._warned.add(key)
            log.warning("rejected from %s: %s", node_id, rejection.message)

    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for res in self._reports:
            total.update({f"{res.kind}:{k}": v for k, v in res.counts.items()})
        return total

    def radio_counts(self) -> Counter[str]:
        """What the LoRa path saw: the serial line, the uplinks, the downlinks."""
        total: Counter[str] = Counter()
        for prefix, part in (("serial", self.radio), ("lora", self.lora),
                             ("downlink", self.downlink)):
            if part is not None:
                total.update({f"{prefix}:{k}": v for k, v in part.counts.items()})
        return total

    async def stop(self) -> None:
        await self.activity.quiet(DRAIN_QUIET_S, DRAIN_MAX_S)
        if self.radio is not None:
            await self.radio.stop()
        if self.lora is not None:
            await self.lora.stop()
        if self.downlink is not None:
            await self.downlink.stop()
        if self.context is not None:
            await self.context.shutdown()
        await self.writer.stop()
        await self.lighting.stop()
        self.publisher.close()
        self.store.close()
        if self.radio is not None:
            log.info("radio: %s", dict(self.radio_counts()) or "nothing heard")
        log.info("gateway stopped; %s", dict(self.counts()) or "no reports")


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    # aiocoap lets some decoding errors of garbage datagrams (invalid UTF-8 in
    # a text option) escape to the event loop (its issues 176 and 417); the
    # datagram is dropped and the gateway goes on. One line in the log, not a
    # traceback.
    exc = context.get("exception")
    if isinstance(exc, UnicodeDecodeError | ValueError):
        log.warning("dropped an undecodable datagram: %s", exc)
        return
    loop.default_exception_handler(context)


async def serve(config: GatewayConfig) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
    gateway = Gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_log_loop_error)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await gateway.start()
    try:
        await stop.wait()
    finally:
        await gateway.stop()
