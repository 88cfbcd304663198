"""The schema's versions. Each migration takes a database from the version
before it to its own number, inside one transaction with the new number
(PRAGMA user_version), so a database is always at exactly one version.

A migration that has shipped is never edited: a change to the schema is the
next migration. Databases made before versions were kept (user_version 0)
may already have some of what migrations 1 and 2 add, so those two check
before they add; later ones need not."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from gateway.storage.addresses import free_addr


class SchemaError(RuntimeError):
    """A database this gateway cannot use; the message says what to do."""


def _v1_tables(db: sqlite3.Connection) -> None:
    """Nodes, reports, crews' visits and street lighting, as first kept."""
    for statement in _V1:
        db.execute(statement)


def _v2_node_addresses_and_keys(db: sqlite3.Connection) -> None:
    """Light poles' short addresses and every node's provisioned key. Poles
    registered before short addresses get the lowest free ones, in the
    order of their ids."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(nodes)")}
    if "addr" not in columns:
        db.execute("ALTER TABLE nodes ADD COLUMN addr INTEGER")
    if "key" not in columns:
        db.execute("ALTER TABLE nodes ADD COLUMN key TEXT")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS nodes_by_addr ON nodes (addr) "
               "WHERE addr IS NOT NULL")
    missing = db.execute("SELECT node_id FROM nodes WHERE role = 'light' AND addr IS NULL "
                         "ORDER BY node_id").fetchall()
    for (node_id,) in missing:
        db.execute("UPDATE nodes SET addr = ? WHERE node_id = ?", (free_addr(db), node_id))


def _v3_oscore_contexts(db: sqlite3.Connection) -> None:
    """Each keyed node's OSCORE identifier (kid) and what its security
    context keeps between runs: the gateway's next sequence number, persisted
    ahead of use, and the replay window (NULL: unknown, as after a crash)."""
    db.execute("""CREATE TABLE oscore_contexts (
        node_id TEXT PRIMARY KEY REFERENCES nodes(node_id),
        kid BLOB NOT NULL UNIQUE,
        next_to_send INTEGER NOT NULL DEFAULT 0,
        window_index INTEGER,
        window_bits TEXT
    )""")


def _v4_technicians(db: sqlite3.Connection) -> None:
    """Technicians' and operators' credentials for management requests: each
    an OSCORE context of its own (kid and Master Secret), what the gateway's
    side of it keeps between runs, and when it was made and revoked. A
    revoked row stays (its kid is never given again, its name stays in the
    record) but loses its secret."""
    db.execute("""CREATE TABLE technicians (
        kid BLOB PRIMARY KEY,
        name TEXT NOT NULL,
        secret TEXT,
        created_at REAL NOT NULL,
        revoked_at REAL,
        next_to_send INTEGER NOT NULL DEFAULT 0,
        window_index INTEGER,
        window_bits TEXT
    )""")
    db.execute("CREATE UNIQUE INDEX technicians_active_name ON technicians (name) "
               "WHERE revoked_at IS NULL")


def _v5_zone_keys(db: sqlite3.Connection) -> None:
    """Each zone's key for the gateway's group Brighten commands: its gid
    (never given twice), the key, and the gateway's next sequence number
    under it, persisted ahead of use; which key each pole acknowledged; and
    the operator's requests that the running gateway push a zone's profile."""
    db.execute("""CREATE TABLE IF NOT EXISTS zone_keys (
        zone TEXT PRIMARY KEY,
        gid INTEGER NOT NULL UNIQUE,
        key TEXT NOT NULL,
        next_to_send INTEGER NOT NULL DEFAULT 0,
        made_at REAL NOT NULL
    )""")
    db.execute("""CREATE TABLE IF NOT EXISTS zone_key_counter (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_gid INTEGER NOT NULL
    )""")
    db.execute("""CREATE TABLE IF NOT EXISTS zone_key_holders (
        node_id TEXT PRIMARY KEY REFERENCES nodes(node_id),
        gid INTEGER NOT NULL,
        at REAL NOT NULL
    )""")
    db.execute("""CREATE TABLE IF NOT EXISTS zone_push_requests (
        id INTEGER PRIMARY KEY,
        zone TEXT NOT NULL,
        requested_at REAL NOT NULL,
        timeout_s REAL NOT NULL,
        taken_at REAL,
        done_at REAL,
        results TEXT
    )""")


def _v6_accounts(db: sqlite3.Connection) -> None:
    """People's accounts for the HTTP API: users with one role each (a crew
    account bound to its crew), browser sessions and programs' tokens, each
    kept as a SHA-256 of its secret so that a copy of the database opens no
    session. Presence events get an index by node: the API's node health
    asks for each node's last contact."""
    db.execute("""CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL,
        crew TEXT,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        password_changed_at REAL NOT NULL
    )""")
    db.execute("""CREATE TABLE sessions (
        secret_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL,
        expires_at REAL NOT NULL
    )""")
    db.execute("CREATE INDEX sessions_by_user ON sessions (user_id)")
    db.execute("""CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        last_used REAL
    )""")
    db.execute("CREATE INDEX api_tokens_by_user ON api_tokens (user_id)")
    db.execute("CREATE INDEX IF NOT EXISTS presence_events_by_node "
               "ON presence_events (node_id, received_at)")


def _v7_plans_and_acknowledgements(db: sqlite3.Connection) -> None:
    """Today's plans as the planner or `kvarter routes plan` made them, each
    route's stops in order with their expected times, so that crews' and
    planners' screens show what was planned; a crew's record of a stop tied
    to its plan and to the id the crew's phone gave it (so that a record
    synced twice is stored once) and to who recorded it; and who
    acknowledged which bin's alarm, when."""
    db.execute("""CREATE TABLE plans (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        made_at REAL NOT NULL,
        made_by TEXT NOT NULL,
        shift_start REAL NOT NULL,
        depot_lat REAL NOT NULL,
        depot_lon REAL NOT NULL,
        settings TEXT NOT NULL,
        outcome TEXT NOT NULL
    )""")
    db.execute("CREATE INDEX plans_by_day ON plans (day, id)")
    db.execute("""CREATE TABLE plan_routes (
        plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        truck TEXT NOT NULL,
        capacity_l INTEGER NOT NULL,
        shift_s INTEGER NOT NULL,
        distance_m INTEGER NOT NULL,
        duration_s INTEGER NOT NULL,
        load_l INTEGER NOT NULL,
        PRIMARY KEY (plan_id, truck)
    )""")
    db.execute("""CREATE TABLE plan_stops (
        plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        truck TEXT NOT NULL,
        position INTEGER NOT NULL,
        node_id TEXT NOT NULL,
        lat REAL NOT NULL,
        lon REAL NOT NULL,
        required INTEGER NOT NULL,
        expected_at REAL NOT NULL,
        expected_fill_pct REAL,
        kind TEXT NOT NULL,
        litres INTEGER NOT NULL,
        street TEXT,
        PRIMARY KEY (plan_id, truck, position)
    )""")
    db.execute("CREATE INDEX plan_stops_by_node ON plan_stops (plan_id, node_id)")
    db.execute("ALTER TABLE bin_visits ADD COLUMN client_id TEXT")
    db.execute("ALTER TABLE bin_visits ADD COLUMN plan_id INTEGER")
    db.execute("ALTER TABLE bin_visits ADD COLUMN recorded_by TEXT")
    db.execute("CREATE UNIQUE INDEX bin_visits_by_client_id ON bin_visits (client_id) "
               "WHERE client_id IS NOT NULL")
    db.execute("CREATE INDEX bin_visits_by_node ON bin_visits (node_id, at)")
    db.execute("""CREATE TABLE alarm_acks (
        id INTEGER PRIMARY KEY,
        node_id TEXT NOT NULL REFERENCES nodes(node_id),
        alarm TEXT NOT NULL,
        acked_at REAL NOT NULL,
        acked_by TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    )""")
    db.execute("CREATE INDEX alarm_acks_by_node ON alarm_acks (node_id, alarm, acked_at)")


def _v8_light_profiles(db: sqlite3.Connection) -> None:
    """The profile each pole runs: the zone revision it acknowledged last in
    a profile push (the desk's "running revision N"). Status reports and
    presence events by time: the energy per zone per night reads a night's."""
    db.execute("""CREATE TABLE light_profiles (
        node_id TEXT PRIMARY KEY REFERENCES nodes(node_id),
        zone TEXT NOT NULL,
        revision INTEGER NOT NULL,
        acknowledged_at REAL NOT NULL
    )""")
    db.execute("CREATE INDEX IF NOT EXISTS light_status_by_time ON light_status (measured_at)")
    db.execute("CREATE INDEX IF NOT EXISTS presence_events_by_time "
               "ON presence_events (measured_at)")


def _v9_node_links_and_selftests(db: sqlite3.Connection) -> None:
    """What the technician's screen shows beside a node's reports: the link
    its latest uplink came by (over LoRa the RSSI, SNR and SF the radio
    bridge heard it at; over Wi-Fi none of those), and the latest self-test a
    technician's laptop delivered (when, its result, the firmware on the
    node, its Wi-Fi signal where it stands)."""
    db.execute("""CREATE TABLE node_links (
        node_id TEXT PRIMARY KEY REFERENCES nodes(node_id),
        via TEXT NOT NULL CHECK (via IN ('lora', 'wifi')),
        rssi_dbm INTEGER,
        snr_q INTEGER,
        sf INTEGER,
        heard_at REAL NOT NULL
    )""")
    db.execute("""CREATE TABLE node_selftests (
        node_id TEXT PRIMARY KEY REFERENCES nodes(node_id),
        at REAL NOT NULL,
        ok INTEGER NOT NULL,
        failed TEXT NOT NULL DEFAULT '',
        firmware TEXT,
        wifi_dbm INTEGER,
        technician TEXT NOT NULL,
        received_at REAL NOT NULL
    )""")


def _v10_addresses_and_kinds(db: sqlite3.Connection) -> None:
    """Each node's address from the city's file (where a crew finds the
    bin), and each bin kind's litres, compacting and service time as the
    catalogue had them at import: planning reads them from here."""
    db.execute("ALTER TABLE nodes ADD COLUMN address TEXT NOT NULL DEFAULT ''")
    db.execute("""CREATE TABLE kind_specs (
        kind TEXT PRIMARY KEY,
        volume_l INTEGER NOT NULL,
        compacting INTEGER NOT NULL,
        service_s INTEGER NOT NULL,
        stored_at REAL NOT NULL
    )""")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_tables,
    _v2_node_addresses_and_keys,
    _v3_oscore_contexts,
    _v4_technicians,
    _v5_zone_keys,
    _v6_accounts,
    _v7_plans_and_acknowledgements,
    _v8_light_profiles,
    _v9_node_links_and_selftests,
    _v10_addresses_and_kinds,
]
LATEST = len(MIGRATIONS)


def version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> list[int]:
    """Bring the database up to LATEST; returns the versions applied. Raises
    SchemaError for a database made by a newer gateway."""
    current = version(db)
    if current > LATEST:
        raise SchemaError(f"database schema version {current} is newer than this gateway's "
                          f"({LATEST}): run the kvarter release that made it, or a newer one")
    applied = []
    for number in range(current + 1, LATEST + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[number - 1](db)
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(number)
    return applied


_V1 = [
    """CREATE TABLE IF NOT EXISTS nodes (
        node_id TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        lat REAL NOT NULL,
        lon REAL NOT NULL,
        kind TEXT NOT NULL DEFAULT '',
        registered_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS bin_reports (
        id INTEGER PRIMARY KEY,
        node_id TEXT NOT NULL REFERENCES nodes(node_id),
        seq INTEGER NOT NULL,
        measured_at INTEGER NOT NULL,
        received_at REAL NOT NULL,
        fill_pct REAL,
        temp_c INTEGER,
        battery_mv INTEGER,
        tilt_deg INTEGER,
        flags INTEGER NOT NULL,
        UNIQUE (node_id, seq, measured_at)
    )""",
    "CREATE INDEX IF NOT EXISTS bin_reports_by_node ON bin_reports (node_id, measured_at)",
    """CREATE TABLE IF NOT EXISTS bin_visits (
        id INTEGER PRIMARY KEY,
        node_id TEXT NOT NULL REFERENCES nodes(node_id),
        at REAL NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('emptied', 'unreachable')),
        note TEXT NOT NULL DEFAULT '',
        recorded_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS bin_visits_by_time ON bin_visits (at)",
    """CREATE TABLE IF NOT EXISTS presence_events (
        id INTEGER PRIMARY KEY,
        node_id TEXT NOT NULL REFERENCES nodes(node_id),
        seq INTEGER NOT NULL,
        measured_at INTEGER NOT NULL,
        received_at REAL NOT NULL,
        count INTEGER NOT NULL,
        level_pct INTEGER NOT NULL,
        speed_mps REAL,
        flags INTEGER NOT NULL,
        UNIQUE (node_id, seq, measured_at)
    )""",
    """CREATE TABLE IF NOT EXISTS light_status (
        id INTEGER PRIMARY KEY,
        node_id TEXT NOT NULL REFERENCES nodes(node_id),
        seq INTEGER NOT NULL,
        measured_at INTEGER NOT NULL,
        received_at REAL NOT NULL,
        level_pct INTEGER NOT NULL,
        energy_dwh INTEGER NOT NULL,
        flags INTEGER NOT NULL,
        lux INTEGER,
        UNIQUE (node_id, seq, measured_at)
    )""",
    "CREATE INDEX IF NOT EXISTS light_status_by_node ON light_status (node_id, id)",
    """CREATE TABLE IF NOT EXISTS light_addresses (
        node_id TEXT PRIMARY KEY REFERENCES nodes(node_id),
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        learned_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS zones (
        name TEXT PRIMARY KEY,
        settings TEXT NOT NULL,
        revision INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        updated_by TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS zone_log (
        id INTEGER PRIMARY KEY,
        zone TEXT NOT NULL,
        at REAL NOT NULL,
        who TEXT NOT NULL,
        revision INTEGER NOT NULL,
        setting TEXT NOT NULL,
        old TEXT NOT NULL,
        new TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS zone_log_by_zone ON zone_log (zone, id)",
    """CREATE TABLE IF NOT EXISTS streets (
        id INTEGER PRIMARY KEY,
        geojson TEXT NOT NULL,
        source TEXT NOT NULL,
        imported_at REAL NOT NULL
    )""",
]
