"""The one path of every uplink payload, whatever carried it (CoAP over UDP or
a LoRa frame rendered by the same resources), in this order:

1. decode it and check the node (gateway/ingest/decode.py);
2. react before the disk: a presence event sets off the light wave at once,
   because a walker must not wait for a commit;
3. store it by group commit (gateway/ingest/writer.py): it is answered with
   success only once its transaction is on disk;
4. publish it (MQTT), let lighting learn from a new status report, and tell
   the observers (people's live screens) of it.

The order is decided here and nowhere else. Lighting is reached through the
small Reactions interface, so that ingest never imports it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from firmware.proto.paths import BIN_PATH, PRESENCE_PATH
from gateway.ingest.decode import Ingest, Rejected
from gateway.ingest.writer import BatchWriter
from gateway.logs import LRU
from gateway.publish.mqtt import NoPublisher, Publisher
from gateway.records import PresenceRecord, Record, StatusRecord

log = logging.getLogger("gateway.ingest")

# Node ids (and reasons) whose rejection was logged, remembered at most.
WARNED_KEPT = 4096

SockAddr = tuple[object, ...]


class Reactions(Protocol):
    """What the gateway's services do with accepted records (lighting)."""

    def presence(self, record: PresenceRecord, sockaddr: SockAddr | None,
                 now: float) -> object: ...

    def status(self, record: StatusRecord, sockaddr: SockAddr | None) -> None: ...


class NoReactions:
    def presence(self, record: PresenceRecord, sockaddr: SockAddr | None,
                 now: float) -> object:
        return None

    def status(self, record: StatusRecord, sockaddr: SockAddr | None) -> None:
        return None


class Result(Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    STORAGE_ERROR = "storage error"


@dataclass(frozen=True)
class Outcome:
    result: Result
    rejection: Rejected | None = None


class Activity:
    """Payloads being handled, and when the last one came: on shutdown the
    gateway waits until this has been quiet for a moment."""

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


class Pipeline:
    def __init__(self, decoder: Ingest, writer: BatchWriter,
                 reactions: Reactions | None = None) -> None:
        self.decoder = decoder
        self.writer = writer
        self.reactions: Reactions = reactions or NoReactions()
        # Replaced by the gateway's MQTT publisher when it starts with a broker.
        self.publisher: Publisher = NoPublisher()
        # Told of each record once it is stored (the HTTP API's live events).
        self.observers: list[Callable[[Record], None]] = []
        # Told of each node whose payload came over UDP and was taken (the
        # link the technician's screen shows, gateway/ingest/links.py).
        self.heard_over_udp: Callable[[str], None] | None = None
        self.activity = Activity()
        # (node id, reason) already logged once; bounded, whatever ids come.
        self._warned: LRU[tuple[str, str], None] = LRU(WARNED_KEPT)

    def decode(self, kind: str, node_id: str, payload: bytes, now: float) -> Record:
        """Raises Rejected for a payload or a node the gateway does not accept."""
        if kind == BIN_PATH:
            return self.decoder.bin_report(node_id, payload, now)
        if kind == PRESENCE_PATH:
            return self.decoder.presence(node_id, payload, now)
        return self.decoder.status(node_id, payload, now)

    async def accept(self, kind: str, node_id: str, payload: bytes,
                     sockaddr: SockAddr | None) -> Outcome:
        """One uplink payload of a kind (a report resource's path) from a
        node, through every step; sockaddr is where it came from over UDP
        (None over LoRa)."""
        self.activity.enter()
        try:
            return await self._accept(kind, node_id, payload, sockaddr)
        finally:
            self.activity.leave()

    async def _accept(self, kind: str, node_id: str, payload: bytes,
                      sockaddr: SockAddr | None) -> Outcome:
        now = time.time()
        try:
            record = self.decode(kind, node_id, payload, now)
        except Rejected as r:
            self._note_rejection(node_id, r)
            return Outcome(Result.REJECTED, r)
        if isinstance(record, PresenceRecord):
            # The light must not wait for the disk: the wave goes out first.
            try:
                self.reactions.presence(record, sockaddr, now)
            except Exception as e:  # never let lighting stop a report being stored
                log.error("light wave failed on an event from %r: %s", record.node_id, e)
        try:
            fresh = await self.writer.write(record)
        except Exception as e:
            log.error("could not store %s from %r: %s", kind, node_id, e)
            return Outcome(Result.STORAGE_ERROR)
        if sockaddr is not None and self.heard_over_udp is not None:
            self.heard_over_udp(record.node_id)
        if not fresh:
            return Outcome(Result.DUPLICATE)
        self.publisher.publish(record)
        if isinstance(record, StatusRecord):
            self.reactions.status(record, sockaddr)
        for observe in self.observers:
            try:
                observe(record)
            except Exception as e:  # a screen's feed never stops a report being stored
                log.error("an observer failed on a %s from %r: %s", kind, node_id, e)
        return Outcome(Result.STORED)

    def _note_rejection(self, node_id: str, rejection: Rejected) -> None:
        # One log line per node and reason, so a misconfigured node cannot
        # flood the log.
        key = (node_id, rejection.reason.value)
        if key not in self._warned:
            self._warned.touch(key, None)
            log.warning("rejected from %r: %s", node_id, rejection.message)
