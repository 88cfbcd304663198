"""What people's screens read: nodes with their health, bins with their latest
report, a bin's reports page by page, and presence counted per zone and
interval (counts only: never one pole's detections with their times)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.privacy import ZoneInterval, last_closed
from gateway.storage.database import Database


@dataclass(frozen=True)
class NodeHealthRow:
    node_id: str
    role: str
    kind: str
    lat: float
    lon: float
    addr: int | None
    provisioned: bool  # has a key
    registered_at: float
    last_contact: float | None  # the gateway's time of the node's latest uplink
    battery_mv: int | None  # a bin's latest report's
    # The link of its latest uplink ("lora" or "wifi", None: not heard since
    # the gateway kept it) and, over LoRa, how the radio bridge heard it.
    via: str | None = None
    rssi_dbm: int | None = None
    snr_q: int | None = None  # quarter dB
    sf: int | None = None
    heard_at: float | None = None
    # Its latest self-test as a technician's laptop delivered it.
    selftest_at: float | None = None
    selftest_ok: bool | None = None
    selftest_failed: tuple[str, ...] = ()
    firmware: str | None = None
    wifi_dbm: int | None = None
    selftest_by: str | None = None


@dataclass(frozen=True)
class BinRow:
    node_id: str
    kind: str
    lat: float
    lon: float
    last_contact: float | None
    measured_at: int | None
    fill_pct: float | None
    temp_c: int | None
    battery_mv: int | None
    tilt_deg: int | None
    flags: int | None


_LAST_CONTACT = (
    "NULLIF(MAX("
    "COALESCE((SELECT MAX(received_at) FROM bin_reports b WHERE b.node_id = n.node_id), 0), "
    "COALESCE((SELECT MAX(received_at) FROM light_status s WHERE s.node_id = n.node_id), 0)"
    "), 0)")


def _heard(role: str, at: float | None) -> float | None:
    """A pole's latest uplink may be a presence event: its time, to the
    quarter hour (when its status reports come anyway), tells nothing of a
    passer-by."""
    if at is None or role != "light":
        return at
    return float(last_closed(at))


class ScreenQueries(Database):
    """The HTTP API's reads."""

    def node_health(self, role: str | None, offset: int, limit: int,
                    node_id: str | None = None) -> tuple[list[NodeHealthRow], int]:
        """A page of nodes in id order (or the one node_id), and how many match."""
        where, args = [], []
        if role is not None:
            where.append("n.role = ?")
            args.append(role)
        if node_id is not None:
            where.append("n.node_id = ?")
            args.append(node_id)
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        with self.reading() as db:
            rows = db.execute(
                "SELECT n.node_id, n.role, n.kind, n.lat, n.lon, n.addr, n.key IS NOT NULL, "
                f"n.registered_at, {_LAST_CONTACT}, "
                "(SELECT battery_mv FROM bin_reports b WHERE b.node_id = n.node_id "
                " ORDER BY measured_at DESC, id DESC LIMIT 1), "
                "k.via, k.rssi_dbm, k.snr_q, k.sf, k.heard_at, "
                "t.at, t.ok, t.failed, t.firmware, t.wifi_dbm, t.technician "
                "FROM nodes n LEFT JOIN node_links k ON k.node_id = n.node_id "
                f"LEFT JOIN node_selftests t ON t.node_id = n.node_id{cond} "
                "ORDER BY n.node_id LIMIT ? OFFSET ?",
                (*args, limit, offset)).fetchall()
            total = db.execute(f"SELECT COUNT(*) FROM nodes n{cond}", args).fetchone()[0]
        return [NodeHealthRow(r[0], r[1], r[2], float(r[3]), float(r[4]), r[5], bool(r[6]),
                              float(r[7]), None if r[8] is None else float(r[8]), r[9],
                              r[10], r[11], r[12], r[13],
                              _heard(r[1], r[14]),
                              None if r[15] is None else float(r[15]),
                              None if r[16] is None else bool(r[16]),
                              tuple(f for f in (r[17] or "").split(",") if f),
                              r[18], r[19], r[20])
                for r in rows], int(total)

    def bin_rows(self, offset: int, limit: int,
                 node_id: str | None = None) -> tuple[list[BinRow], int]:
        """A page of bins in id order with each one's latest report."""
        cond, args = ("", []) if node_id is None else (" AND n.node_id = ?", [node_id])
        with self.reading() as db:
            rows = db.execute(
                f"SELECT n.node_id, n.kind, n.lat, n.lon, {_LAST_CONTACT}, r.measured_at, "
                "r.fill_pct, r.temp_c, r.battery_mv, r.tilt_deg, r.flags "
                "FROM nodes n LEFT JOIN bin_reports r ON r.id = ("
                " SELECT id FROM bin_reports WHERE node_id = n.node_id "
                " ORDER BY measured_at DESC, id DESC LIMIT 1) "
                f"WHERE n.role = 'bin'{cond} ORDER BY n.node_id "
                "LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
            total = db.execute(f"SELECT COUNT(*) FROM nodes n WHERE n.role = 'bin'{cond}",
                               args).fetchone()[0]
        return [BinRow(r[0], r[1], float(r[2]), float(r[3]),
                       None if r[4] is None else float(r[4]), *r[5:]) for r in rows], int(total)

    def bin_reports_page(self, node_id: str, offset: int, limit: int,
                         since: int | None = None, until: int | None = None) -> tuple[
            list[tuple[int, int, float, float | None, int | None, int | None, int]], int]:
        """(seq, measured_at, received_at, fill_pct, temp_c, battery_mv, flags) of
        a bin's reports measured in [since, until), newest first, and how many
        there are."""
        cond = " AND measured_at >= ? AND measured_at < ?"
        window = (0 if since is None else since, 2**62 if until is None else until)
        with self.reading() as db:
            rows = db.execute(
                "SELECT seq, measured_at, received_at, fill_pct, temp_c, battery_mv, flags "
                f"FROM bin_reports WHERE node_id = ?{cond} ORDER BY measured_at DESC, id DESC "
                "LIMIT ? OFFSET ?", (node_id, *window, limit, offset)).fetchall()
            total = db.execute(f"SELECT COUNT(*) FROM bin_reports WHERE node_id = ?{cond}",
                               (node_id, *window)).fetchone()[0]
        return rows, int(total)

    def forecast_version(self) -> tuple[int, int]:
        """Changes whenever a bin report or a crew's record is stored."""
        with self.reading() as db:
            reports = db.execute("SELECT COALESCE(MAX(id), 0) FROM bin_reports").fetchone()[0]
            visits = db.execute("SELECT COALESCE(MAX(id), 0) FROM bin_visits").fetchone()[0]
        return int(reports), int(visits)

    def presence_counts(self, since: int, until: int, interval_s: int,
                        zone: str | None) -> list[ZoneInterval]:
        """Presence per zone (a pole's kind; "default" when it has none) and
        interval, measured in [since, until), intervals aligned to multiples
        of interval_s (since and until should be too): the events, their
        detections, and the most detections of any one pole."""
        zone_of = "COALESCE(NULLIF(n.kind, ''), 'default')"
        cond, args = ("", []) if zone is None else (f" AND {zone_of} = ?", [zone])
        with self.reading() as db:
            rows = db.execute(
                "SELECT z, bucket, SUM(e), SUM(d), MAX(d) FROM ("
                f" SELECT {zone_of} AS z, p.measured_at / ? AS bucket, p.node_id, "
                " COUNT(*) AS e, SUM(p.count) AS d "
                " FROM presence_events p JOIN nodes n ON n.node_id = p.node_id "
                f" WHERE p.measured_at >= ? AND p.measured_at < ?{cond} "
                " GROUP BY z, bucket, p.node_id) "
                "GROUP BY z, bucket ORDER BY bucket, z",
                (interval_s, since, until, *args)).fetchall()
        return [ZoneInterval(z, int(b) * interval_s, int(e), int(d or 0), int(m or 0))
                for z, b, e, d, m in rows]

    def zone_log_page(self, name: str, offset: int, limit: int) -> tuple[
            list[tuple[float, str, int, str, str, str]], int]:
        """(at, who, revision, setting, old, new) of a zone's changes, newest first."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT at, who, revision, setting, old, new FROM zone_log WHERE zone = ? "
                "ORDER BY id DESC LIMIT ? OFFSET ?", (name, limit, offset)).fetchall()
            total = db.execute("SELECT COUNT(*) FROM zone_log WHERE zone = ?",
                               (name,)).fetchone()[0]
        return rows, int(total)

    def map_bins(self) -> list[tuple[str, float, float, float | None, int | None,
                                     float | None, int | None, int | None]]:
        """(node id, lat, lon, fill %, measured at, received at, flags,
        battery mV) of every bin and its latest report, in id order: one
        index lookup per bin, so that the operator's map stays fast."""
        with self.reading() as db:
            return db.execute(
                "SELECT n.node_id, n.lat, n.lon, r.fill_pct, r.measured_at, r.received_at, "
                "r.flags, r.battery_mv FROM nodes n LEFT JOIN bin_reports r ON r.id = ("
                " SELECT id FROM bin_reports WHERE node_id = n.node_id "
                " ORDER BY measured_at DESC, id DESC LIMIT 1) "
                "WHERE n.role = 'bin' ORDER BY n.node_id").fetchall()

    def open_data_bins(self) -> list[tuple[str, str, float, float, float | None, int | None,
                                          int | None, float | None]]:
        """(node id, type, lat, lon, fill %, temperature, measured at, received
        at) of every bin and its latest report, in id order: what the open
        data's WasteContainers show."""
        with self.reading() as db:
            return db.execute(
                "SELECT n.node_id, n.kind, n.lat, n.lon, r.fill_pct, r.temp_c, r.measured_at, "
                "r.received_at FROM nodes n LEFT JOIN bin_reports r ON r.id = ("
                " SELECT id FROM bin_reports WHERE node_id = n.node_id "
                " ORDER BY measured_at DESC, id DESC LIMIT 1) "
                "WHERE n.role = 'bin' ORDER BY n.node_id").fetchall()

    def map_poles(self) -> list[tuple[str, float, float, int | None, float | None, str]]:
        """(node id, lat, lon, level %, its status's receipt, zone) of every
        light pole and its latest status, in id order. Not its presence
        events: their times would be a passer-by's path."""
        with self.reading() as db:
            return db.execute(
                "SELECT n.node_id, n.lat, n.lon, s.level_pct, s.received_at, "
                "COALESCE(NULLIF(n.kind, ''), 'default') "
                "FROM nodes n LEFT JOIN light_status s ON s.id = ("
                " SELECT id FROM light_status WHERE node_id = n.node_id ORDER BY id DESC LIMIT 1) "
                "WHERE n.role = 'light' ORDER BY n.node_id").fetchall()

    def map_version(self) -> tuple[int, int, int, int]:
        """Changes whenever anything the map shows may have: a node, a
        report, a pole's status, an acknowledgement. Never a presence event:
        the map changing with each would time a passer-by."""
        with self.reading() as db:
            r = db.execute(
                "SELECT (SELECT COALESCE(MAX(rowid), 0) FROM nodes), (SELECT COUNT(*) FROM nodes), "
                "(SELECT COALESCE(MAX(id), 0) FROM bin_reports), "
                "(SELECT COALESCE(MAX(id), 0) FROM light_status)").fetchone()
        return int(r[0]), int(r[1]), int(r[2]), int(r[3])

    # --- what the API keeps of each bin, read a bin or a few rows at a time ---

    def bin_fill_history(self, node_id: str) -> list[tuple[str, float, float | None]]:
        """(node id, measured at, fill %) of one bin's reports, oldest first
        (its index): what its forecast learns from."""
        with self.reading() as db:
            return db.execute(
                "SELECT node_id, measured_at, fill_pct FROM bin_reports WHERE node_id = ? "
                "ORDER BY measured_at, id", (node_id,)).fetchall()

    def bin_fills_between(self, since: float, until: float
                          ) -> list[tuple[str, float, float | None]]:
        """(node id, measured at, fill %) of every bin's reports measured in
        [since, until), by bin then time: what the daily open-data files
        show and count emptyings from."""
        with self.reading() as db:
            return db.execute(
                # From each bin, along its (node, time) index: a day of a
                # district's reports without a pass over all of them.
                "SELECT r.node_id, r.measured_at, r.fill_pct FROM nodes n "
                "CROSS JOIN bin_reports r ON r.node_id = n.node_id "
                "AND r.measured_at >= ? AND r.measured_at < ? WHERE n.role = 'bin' "
                "ORDER BY r.node_id, r.measured_at, r.id", (since, until)).fetchall()

    def bin_emptied_at(self, node_id: str) -> list[float]:
        """When crews recorded one bin emptied, oldest first."""
        with self.reading() as db:
            return [float(r[0]) for r in db.execute(
                "SELECT at FROM bin_visits WHERE node_id = ? AND outcome = 'emptied' "
                "ORDER BY at, id", (node_id,))]

    def forecast_changes(self, after_report: int, after_visit: int) -> tuple[set[str], int, int]:
        """The bins with a report or a crew's record stored after these ids
        (by their primary keys: only the new rows are read), and the latest
        ids."""
        with self.reading() as db:
            reports = db.execute("SELECT id, node_id FROM bin_reports WHERE id > ?",
                                 (after_report,)).fetchall()
            visits = db.execute("SELECT id, node_id FROM bin_visits WHERE id > ?",
                                (after_visit,)).fetchall()
        changed = {n for _, n in reports} | {n for _, n in visits}
        return (changed, max((i for i, _ in reports), default=after_report),
                max((i for i, _ in visits), default=after_visit))

    def bin_places(self) -> list[tuple[str, float, float]]:
        """(node id, lat, lon) of every bin, in id order."""
        with self.reading() as db:
            return db.execute("SELECT node_id, lat, lon FROM nodes WHERE role = 'bin' "
                              "ORDER BY node_id").fetchall()

    def bin_places_version(self) -> tuple[int, int, float, float]:
        """Changes whenever a bin is registered, removed or moved (one pass
        over the nodes in SQLite, one row back): each position weighted by
        its row, so that two bins swapping places count too."""
        with self.reading() as db:
            r = db.execute("SELECT COUNT(*), COALESCE(MAX(rowid), 0), TOTAL(lat * rowid), "
                           "TOTAL(lon * rowid) FROM nodes WHERE role = 'bin'").fetchone()
        return int(r[0]), int(r[1]), float(r[2]), float(r[3])

    def bin_reports_after(self, after: int) -> list[tuple[int, str, int, float, int, int | None]]:
        """(id, node id, measured at, received at, flags, battery mV) of the
        bin reports stored after the one with this id, in the order stored;
        after=0 reads every bin's latest report and its latest receipt
        instead (one row per bin, the receipt in place of its own)."""
        with self.reading() as db:
            if after > 0:
                return db.execute(
                    "SELECT id, node_id, measured_at, received_at, flags, battery_mv "
                    "FROM bin_reports WHERE id > ? ORDER BY id", (after,)).fetchall()
            return db.execute(
                "SELECT r.id, r.node_id, r.measured_at, c.received, r.flags, r.battery_mv "
                "FROM (SELECT node_id, MAX(received_at) AS received FROM bin_reports "
                "      GROUP BY node_id) c "
                "JOIN bin_reports r ON r.id = (SELECT id FROM bin_reports "
                " WHERE node_id = c.node_id ORDER BY measured_at DESC, id DESC LIMIT 1) "
                "ORDER BY r.id").fetchall()

    def last_bin_report_id(self) -> int:
        with self.reading() as db:
            return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM bin_reports").fetchone()[0])

    def light_spans(self, since: float, until: float
                    ) -> list[tuple[str, int, float, float, float]]:
        """(pole, reports, first measured, last measured, energy counter's
        rise in Wh) of each pole's status reports measured in [since,
        until), summed in SQL (the time index, one row per pole back): the
        rise as gateway.lighting.nightly.counter_rise counts it, a counter
        that fell (restarted) counting its new value."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT node_id, COUNT(*), MIN(measured_at), MAX(measured_at), "
                " SUM(CASE WHEN prev IS NULL THEN 0 WHEN energy_dwh >= prev "
                "     THEN energy_dwh - prev ELSE energy_dwh END) "
                "FROM (SELECT node_id, measured_at, energy_dwh, LAG(energy_dwh) OVER ("
                "       PARTITION BY node_id ORDER BY measured_at, id) AS prev "
                "      FROM light_status WHERE measured_at >= ? AND measured_at < ?) "
                "GROUP BY node_id", (since, until)).fetchall()
        return [(n, int(c), float(a), float(b), int(r or 0) / 10) for n, c, a, b, r in rows]
