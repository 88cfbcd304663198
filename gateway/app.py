"""The running gateway: wires storage, ingest, the writer, MQTT, the CoAP
server and people's HTTP API together, and shuts them down in order."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import struct
import time
from collections import Counter
from pathlib import Path

import aiocoap

from gateway.api.bin_cache import BinForecasts, BinStates
from gateway.api.ngsi_feed import NgsiFeed
from gateway.api.server import ApiServer
from gateway.coap.resources import build_site
from gateway.config import GatewayConfig, GatewayStartError
from gateway.ingest.decode import Ingest
from gateway.ingest.links import LinkLog
from gateway.ingest.pipeline import Pipeline
from gateway.ingest.writer import BatchWriter
from gateway.lighting.service import Lighting
from gateway.lighting.wave import WaveSettings
from gateway.publish.mqtt import BrokerAccess, MqttPublisher
from gateway.publish.ngsi_ld import NgsiLdOut
from gateway.radio.downlink import Downlink
from gateway.radio.lora import LoraLink
from gateway.radio.serial_line import RadioLink
from gateway.records import Node
from gateway.registry import NodeRegistry
from gateway.retention import PresenceRetention
from gateway.security.contexts import NodeContext
from gateway.security.keyring import Keyring
from gateway.security.site import CheckedOscoreSite
from gateway.security.zone import ZoneKeys
from gateway.storage.store import Store
from gateway.tasks import settle_heap

log = logging.getLogger("gateway")

# On shutdown the gateway keeps serving until no request has come for this
# long (at most DRAIN_MAX_S), so that what is already on its way is stored.
DRAIN_QUIET_S = 0.2
DRAIN_MAX_S = 3.0


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.keyring = Keyring(self.store)
        self.registry = NodeRegistry(self.store, self._node_changed, config.max_nodes)
        self.writer = BatchWriter(self.store)
        # Each node's latest link for the technician's screen, written in
        # batches off the uplinks' path.
        self.links = LinkLog(self.store)
        # Raw presence events deleted once past their retention.
        self.retention = PresenceRetention(self.store, config.presence_keep_days)
        self.lighting = Lighting(self.store, self.registry.nodes, config.bind_host,
                                 WaveSettings(latency_s=config.light_latency_s),
                                 self._publish_light, config.light_interval_s,
                                 config.presence_interval_s, config.presence_min_count)
        # Wired after construction: profile pushes go protected with each
        # pole's OSCORE context.
        self.lighting.oscore_context = self.keyring.credentials.for_node
        # and group commands with each zone's key.
        self.lighting.zone_keys = ZoneKeys(self.store)
        self.pipeline = Pipeline(Ingest(self.registry.nodes, config.max_clock_ahead_s,
                                        config.max_report_age_s), self.writer, self.lighting)
        self.pipeline.heard_over_udp = self.links.wifi
        self._site, self._reports = build_site(self.pipeline, self.registry,
                                               config.admin_allowed,
                                               config.oscore == "required",
                                               self.keyring.kid_of)
        self.context: aiocoap.Context | None = None
        # The UDP port CoAP is served on: the configured one, or with port 0
        # the one the system gave.
        self.coap_port = config.port
        self.downlink: Downlink | None = None
        self.lora: LoraLink | None = None
        self.radio: RadioLink | None = None
        # People's HTTP API, fed the stored reports for its live updates.
        self.api: ApiServer | None = ApiServer(config) if config.http else None
        # The NGSI-LD entities' updates on MQTT, when asked for.
        self.ngsi_feed: NgsiFeed | None = None
        if self.api is not None:
            self.pipeline.observers.append(self.api.record)
            self.lighting.pushed = self.api.events.zone_push

    @property
    def site(self) -> aiocoap.resource.Site:
        """The CoAP resources; what comes over LoRa is rendered by them too."""
        return self._site

    async def start(self) -> None:
        # aiocoap binds with SO_REUSEPORT by default, which would let a second
        # gateway on the same port silently take half of the traffic. One
        # gateway per port: a second one must fail to start.
        os.environ["AIOCOAP_REUSE_PORT"] = "0"
        if self.api is not None:
            # Its port and certificate are checked before anything starts.
            await self.api.prepare()
        self.writer.start()
        await self.links.start()
        if self.config.mqtt_host:
            # Wired after construction: the pipeline publishes through
            # NoPublisher until the broker's client exists.
            c = self.config
            access = BrokerAccess(c.mqtt_tls_ca, c.mqtt_tls_cert, c.mqtt_tls_key,
                                  c.mqtt_username, c.mqtt_password)
            publisher = MqttPublisher(self.config.mqtt_host, c.mqtt_port, c.mqtt_prefix,
                                      c.district, access, c.mqtt_queue_max)
            self.pipeline.publisher = publisher
            if c.mqtt_ngsi_ld:
                await self._start_ngsi_feed(publisher)
        await self.lighting.start()
        self.retention.start()
        contexts = await asyncio.to_thread(self.keyring.load)
        # aiocoap's OSCORE unprotects what comes with a context of a known
        # kid and hands the resources the plain request, marked with the
        # node's context; what the resources accept unprotected is theirs to
        # decide. The radio path (gateway/radio/lora.py) does the same with
        # the same credentials.
        site = CheckedOscoreSite(self._site, self.keyring.credentials)
        self.context = await aiocoap.Context.create_server_context(
            site, bind=(self.config.bind_host, self.config.port),
            transports=list(self.config.coap_transports))
        self.coap_port = _udp_port(self.context) or self.config.port
        if self.config.radio:
            await self._start_radio(self.config.radio, self.config.radio_baud)
        if self.api is not None:
            try:
                await self.api.start()
            except BaseException:
                self.api = None
                await self.stop()
                raise
        settle_heap()  # the registry, the contexts and the light wave are loaded
        log.info("gateway for %s listening on coap://%s:%d, data in %s; OSCORE %s, %d node "
                 "context(s)", self.config.district, self.config.bind_host, self.coap_port,
                 self.config.db_path, self.config.oscore, contexts)

    async def _start_ngsi_feed(self, publisher: MqttPublisher) -> None:
        c = self.config
        # With the HTTP API, what it has learnt of the bins is shared: the
        # same forecast on /ngsi-ld/v1 and on MQTT, learnt once.
        shared = self.api.bin_caches() if self.api is not None else None
        states, forecasts = shared or (BinStates(), BinForecasts())
        store = await asyncio.to_thread(Store, c.db_path)
        out = NgsiLdOut(c.mqtt_prefix, c.district, c.mqtt_ngsi_ld_published,
                        c.mqtt_ngsi_ld_format, publisher.publish_state, time.time)
        self.ngsi_feed = NgsiFeed(store, states, forecasts, out, learn=shared is None)
        self.ngsi_feed.start()
        log.info("NGSI-LD updates on MQTT under %s/%s/ngsi-ld/ (%s, %s)", c.mqtt_prefix,
                 c.district, c.mqtt_ngsi_ld_format, ", ".join(c.mqtt_ngsi_ld_published) or
                 "no type")

    async def _start_radio(self, path: str, baud: int) -> None:
        self.downlink = Downlink()
        # The same contexts as the UDP site's OSCORE: one replay window and
        # one Echo recovery per node, whichever way its frames come.
        self.lora = LoraLink(self._site, self.registry.nodes, self.downlink,
                             self.keyring.credentials,
                             oscore_required=self.config.oscore == "required")
        # Wired after construction, once the radio is there: lighting sends
        # commands for poles heard over LoRa on the air, and the downlink
        # scheduler hands its frames to the serial line.
        self.lighting.lora_command = self.lora.command
        # the link log hears each node's own uplink with its signal,
        self.lora.heard_signal = self.links.lora
        # and pushes poles heard over LoRa their profiles (and zone keys) there.
        self.lighting.lora_on_air = self.lora.on_air
        self.lighting.lora_push = self._lora_push
        self.radio = RadioLink(path, baud, self.lora.on_frame)
        self.downlink.send = self.radio.send
        self.downlink.start()
        await self.radio.start()

    async def _lora_push(self, node_id: str, ctx: object, path: str, payload: bytes) -> str:
        if self.lora is None or not isinstance(ctx, NodeContext):
            return "no answer (no radio)"
        return await self.lora.push(node_id, ctx, path, payload)

    def _node_changed(self, node: Node) -> None:
        self.keyring.registered(node)
        if node.role == "light":
            self.lighting.nodes_changed()

    def _publish_light(self, path: str, body: dict[str, object]) -> None:
        self.pipeline.publisher.publish_light(path, body)

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
        # People's screens first: nothing new is asked of the data while the
        # rest stops.
        if self.api is not None:
            await self.api.stop()
        await self.pipeline.activity.quiet(DRAIN_QUIET_S, DRAIN_MAX_S)
        if self.radio is not None:
            await self.radio.stop()
        if self.lora is not None:
            await self.lora.stop()
        if self.downlink is not None:
            await self.downlink.stop()
        if self.context is not None:
            await self.context.shutdown()
        await self.writer.stop()
        await self.links.stop()
        await self.retention.stop()
        await self.lighting.stop()
        if self.ngsi_feed is not None:
            await asyncio.to_thread(self.ngsi_feed.stop)
            await asyncio.to_thread(self.ngsi_feed.store.close)
        self.pipeline.publisher.close()
        self.keyring.close()
        self.store.close()
        if self.radio is not None:
            log.info("radio: %s", dict(self.radio_counts()) or "nothing heard")
        log.info("gateway stopped; %s", dict(self.counts()) or "no reports")


# What parsing a garbage datagram can raise inside aiocoap.
DATAGRAM_ERRORS = (UnicodeError, ValueError, IndexError, KeyError, TypeError, struct.error)


def _udp_port(context: aiocoap.Context) -> int | None:
    """The local port of the context's UDP endpoint. aiocoap keeps its
    sockets to itself; with port 0 this is the only way to learn the port."""
    for interface in context.request_interfaces:
        messages = getattr(interface, "token_interface", None)
        transport = getattr(getattr(messages, "message_interface", None), "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if isinstance(sock, socket.socket) and sock.type == socket.SOCK_DGRAM:
            return int(sock.getsockname()[1])
    return None


def write_ready_file(path: Path, gateway: Gateway) -> None:
    """Tells a supervisor or a script that the gateway serves, and on which
    ports (useful with port 0). Written whole or not at all."""
    ports = {"coap_port": gateway.coap_port,
             "http_port": gateway.api.port if gateway.api is not None else None}
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(ports) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        raise GatewayStartError(f"cannot write the ready file {path}: {e.strerror or e}; "
                                "give a --ready-file in a writable directory") from None


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    # aiocoap lets some decoding errors of garbage datagrams (invalid UTF-8 in
    # a text option) escape to the event loop (its issues 176 and 417); the
    # datagram is dropped and the gateway goes on. One line in the log, not a
    # traceback.
    exc = context.get("exception")
    if isinstance(exc, DATAGRAM_ERRORS):
        log.warning("dropped an undecodable datagram: %s: %s", type(exc).__name__, exc)
        return
    loop.default_exception_handler(context)


async def serve(config: GatewayConfig, ready_file: Path | None = None) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly. ready_file: written
    once CoAP and HTTP serve (their ports, as JSON), removed at the stop."""
    gateway = Gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_log_loop_error)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await gateway.start()
    try:
        if ready_file is not None:
            write_ready_file(ready_file, gateway)
        await stop.wait()
    finally:
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
        await gateway.stop()
