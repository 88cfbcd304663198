"""The gateway's database: one object with the queries of every kind of
record, each kind in its own module, over one connection (database.py) whose
schema is brought up to date when it opens (migrations.py)."""

from __future__ import annotations

from gateway.storage.alarm_acks import AlarmAckTable
from gateway.storage.lighting import LightingTables, LightRow
from gateway.storage.node_health import NodeHealthTables
from gateway.storage.nodes import NodeTable
from gateway.storage.plans import PlanTable
from gateway.storage.reports import UNCLOCKED_DUPLICATE_S, ReportTable
from gateway.storage.screens import ScreenQueries
from gateway.storage.security import SecurityTable
from gateway.storage.summary import Summary, SummaryQuery
from gateway.storage.technicians import TechnicianTable
from gateway.storage.users import UserTable
from gateway.storage.visits import VisitTable
from gateway.storage.zone_keys import ZoneKeyTables

__all__ = ["LightRow", "Store", "Summary", "UNCLOCKED_DUPLICATE_S"]


class Store(NodeTable, ReportTable, VisitTable, LightingTables, SecurityTable, TechnicianTable,
            ZoneKeyTables, SummaryQuery, UserTable, ScreenQueries, PlanTable, AlarmAckTable,
            NodeHealthTables):
    """Opened with the path of its SQLite file; a context manager that closes it."""
