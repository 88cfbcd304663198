"""Each node's latest link, for the technician's screen: over LoRa the RSSI,
SNR and spreading factor its last own uplink was heard at (a frame that
verifies, for a node with a key), over Wi-Fi only that it came by Wi-Fi (the
gateway hears no radio there). Noted in memory on the uplink's path, which
must not wait for the disk; written in one transaction every LINK_WRITE_S,
like the light poles' learned addresses. A crash loses at most the last few
seconds of figures, which the node's next uplink brings again.

Over Wi-Fi a row is written only when a node's link changes, not at every
report: ingest is the gateway's hot path, and a figure-less "still Wi-Fi"
tells the technician nothing new."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gateway.storage.node_health import LinkRow
from gateway.storage.store import Store

log = logging.getLogger("gateway.ingest")

LINK_WRITE_S = 5.0


class LinkLog:
    def __init__(self, store: Store, write_s: float = LINK_WRITE_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.write_s = write_s
        self._clock = clock
        self._via: dict[str, str] = {}  # as stored, or about to be
        self._unsaved: dict[str, LinkRow] = {}
        self._task: asyncio.Task[None] | None = None
        self.writes = 0

    async def start(self) -> None:
        self._via = await asyncio.to_thread(self.store.link_vias)

    def lora(self, node_id: str, rssi_dbm: int, snr_q: int, sf: int) -> None:
        """A node's own uplink, heard by the radio bridge."""
        self._via[node_id] = "lora"
        self._note((node_id, "lora", rssi_dbm, snr_q, sf, self._clock()))

    def wifi(self, node_id: str) -> None:
        """A node's uplink taken over UDP."""
        if self._via.get(node_id) == "wifi":
            return
        self._via[node_id] = "wifi"
        self._note((node_id, "wifi", None, None, None, self._clock()))

    def _note(self, row: LinkRow) -> None:
        self._unsaved[row[0]] = row
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._save_later())

    async def _save_later(self) -> None:
        try:
            await asyncio.sleep(self.write_s)
        finally:
            # Also when the gateway stops meanwhile: what was heard is kept.
            self._task = None
            await self._flush()

    async def _flush(self) -> None:
        rows, self._unsaved = list(self._unsaved.values()), {}
        if not rows:
            return
        try:
            await asyncio.to_thread(self.store.set_links, rows)
            self.writes += 1
        except Exception as e:  # the screen shows older figures; the next uplink brings new
            log.error("could not store the links of %d node(s): %s", len(rows), e)
            for row in rows:
                if self._via.get(row[0]) == row[1] and row[1] == "wifi":
                    self._via.pop(row[0], None)  # noted again at its next uplink

    async def stop(self) -> None:
        """Write what is noted, now."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._flush()
