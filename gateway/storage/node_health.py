"""What the technician's screen shows beside a node's reports: the link of
its latest uplink (written in batches by gateway/ingest/links.py) and the
latest self-test a technician's laptop delivered."""

from __future__ import annotations

import time

from gateway.records import SelfTest
from gateway.storage.database import Database

# (node id, via, rssi dBm, snr in quarter dB, sf, heard at): via "lora" with
# the radio's figures, or "wifi" with None for each.
LinkRow = tuple[str, str, int | None, int | None, int | None, float]


class NodeHealthTables(Database):
    def set_links(self, rows: list[LinkRow]) -> None:
        """Each node's latest link, in one transaction; rows of nodes no
        longer registered are left out."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO node_links (node_id, via, rssi_dbm, snr_q, sf, heard_at) "
                "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS "
                "(SELECT 1 FROM nodes WHERE node_id = ?1) "
                "ON CONFLICT (node_id) DO UPDATE SET via = excluded.via, "
                "rssi_dbm = excluded.rssi_dbm, snr_q = excluded.snr_q, sf = excluded.sf, "
                "heard_at = excluded.heard_at", rows)

    def link_vias(self) -> dict[str, str]:
        """node id -> the link its latest uplink came by, as stored."""
        with self.reading() as db:
            return dict(db.execute("SELECT node_id, via FROM node_links").fetchall())

    def set_selftest(self, node_id: str, result: SelfTest, technician: str) -> bool:
        """Keep a node's self-test unless a later one is stored already (a
        result delivered late never hides a newer one); True when kept."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO node_selftests (node_id, at, ok, failed, firmware, wifi_dbm, "
                "technician, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (node_id) DO UPDATE SET at = excluded.at, ok = excluded.ok, "
                "failed = excluded.failed, firmware = excluded.firmware, "
                "wifi_dbm = excluded.wifi_dbm, technician = excluded.technician, "
                "received_at = excluded.received_at WHERE excluded.at >= node_selftests.at",
                (node_id, result.at, int(result.ok), ",".join(result.failed), result.firmware,
                 result.wifi_dbm, technician, time.time()))
            return cur.rowcount > 0
