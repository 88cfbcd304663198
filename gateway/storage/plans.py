"""Today's plans as they were made: each plan's settings and outcome, its
routes, and every route's stops in the order the crew visits them, with the
time each is expected. A plan is never changed once stored: planning again
stores a new one, and the latest of a day is that day's plan."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.storage.database import Database


@dataclass(frozen=True)
class RouteRow:
    truck: str
    capacity_l: int
    shift_s: int
    distance_m: int
    duration_s: int
    load_l: int


@dataclass(frozen=True)
class StopRow:
    truck: str
    position: int  # 1, 2, ... in the order the crew visits them
    node_id: str
    lat: float
    lon: float
    required: bool
    expected_at: float  # unix time (UTC)
    expected_fill_pct: float | None
    kind: str
    litres: int
    street: str | None


@dataclass(frozen=True)
class PlanRow:
    id: int
    day: str  # YYYY-MM-DD, local
    made_at: float
    made_by: str
    shift_start: float
    depot: tuple[float, float]
    settings: dict[str, Any]  # what the plan was asked for
    outcome: dict[str, Any]  # problems, required bins left out, optional ones left


_STOP_COLUMNS = ("truck, position, node_id, lat, lon, required, expected_at, "
                 "expected_fill_pct, kind, litres, street")


def _plan(r: tuple[Any, ...]) -> PlanRow:
    return PlanRow(int(r[0]), r[1], float(r[2]), r[3], float(r[4]), (float(r[5]), float(r[6])),
                   json.loads(r[7]), json.loads(r[8]))


def _stop(r: tuple[Any, ...]) -> StopRow:
    return StopRow(r[0], int(r[1]), r[2], float(r[3]), float(r[4]), bool(r[5]), float(r[6]),
                   r[7], r[8], int(r[9]), r[10])


_PLAN_COLUMNS = ("id, day, made_at, made_by, shift_start, depot_lat, depot_lon, settings, "
                 "outcome")


class PlanTable(Database):
    def add_plan(self, day: str, made_by: str, shift_start: float, depot: tuple[float, float],
                 settings: dict[str, Any], outcome: dict[str, Any],
                 routes: Sequence[RouteRow], stops: Sequence[StopRow]) -> PlanRow:
        """Store a plan whole, in one transaction; returns it with its id."""
        made_at = time.time()
        with self.transaction() as db:
            cur = db.execute(
                f"INSERT INTO plans ({_PLAN_COLUMNS.removeprefix('id, ')}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (day, made_at, made_by, shift_start, depot[0], depot[1],
                 json.dumps(settings), json.dumps(outcome)))
            plan_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO plan_routes (plan_id, truck, capacity_l, shift_s, distance_m, "
                "duration_s, load_l) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(plan_id, r.truck, r.capacity_l, r.shift_s, r.distance_m, r.duration_s,
                  r.load_l) for r in routes])
            db.executemany(
                f"INSERT INTO plan_stops (plan_id, {_STOP_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(plan_id, s.truck, s.position, s.node_id, s.lat, s.lon, int(s.required),
                  s.expected_at, s.expected_fill_pct, s.kind, s.litres, s.street)
                 for s in stops])
        return PlanRow(plan_id, day, made_at, made_by, shift_start, depot, settings, outcome)

    def plan(self, plan_id: int) -> PlanRow | None:
        with self.reading() as db:
            r = db.execute(f"SELECT {_PLAN_COLUMNS} FROM plans WHERE id = ?",
                           (plan_id,)).fetchone()
        return None if r is None else _plan(r)

    def latest_plan(self, day: str | None = None) -> PlanRow | None:
        """The latest plan made for a day (None: for any day)."""
        cond, args = ("", ()) if day is None else (" WHERE day = ?", (day,))
        with self.reading() as db:
            r = db.execute(f"SELECT {_PLAN_COLUMNS} FROM plans{cond} ORDER BY id DESC LIMIT 1",
                           args).fetchone()
        return None if r is None else _plan(r)

    def plan_routes(self, plan_id: int) -> list[RouteRow]:
        with self.reading() as db:
            rows = db.execute(
                "SELECT truck, capacity_l, shift_s, distance_m, duration_s, load_l "
                "FROM plan_routes WHERE plan_id = ? ORDER BY rowid", (plan_id,)).fetchall()
        return [RouteRow(*r) for r in rows]

    def plan_stops(self, plan_id: int, truck: str | None = None) -> list[StopRow]:
        """A plan's stops (one truck's, or every truck's), in each route's order."""
        cond, args = ("", (plan_id,)) if truck is None else (" AND truck = ?", (plan_id, truck))
        with self.reading() as db:
            rows = db.execute(f"SELECT {_STOP_COLUMNS} FROM plan_stops WHERE plan_id = ?"
                              f"{cond} ORDER BY truck, position", args).fetchall()
        return [_stop(r) for r in rows]

    def plan_stop(self, plan_id: int, node_id: str) -> StopRow | None:
        with self.reading() as db:
            r = db.execute(f"SELECT {_STOP_COLUMNS} FROM plan_stops WHERE plan_id = ? "
                           "AND node_id = ? LIMIT 1", (plan_id, node_id)).fetchone()
        return None if r is None else _stop(r)

    def stop_outcomes(self, plan: PlanRow) -> dict[str, tuple[str, float, str]]:
        """node id -> (outcome, at, note) of the latest record of each of the
        plan's bins: one made for this plan or a plan it re-planned (a day
        re-planned keeps what its crews did; settings "continues"), or one
        made without a plan (the command line's) since the first of those was
        made."""
        chain, first = [plan.id], plan
        while isinstance(first.settings.get("continues"), int):
            earlier = self.plan(first.settings["continues"])
            if earlier is None or earlier.id in chain:
                break
            chain.append(earlier.id)
            first = earlier
        marks = ", ".join("?" * len(chain))
        with self.reading() as db:
            rows = db.execute(
                "SELECT v.node_id, v.outcome, v.at, v.note FROM bin_visits v "
                "WHERE v.node_id IN (SELECT node_id FROM plan_stops WHERE plan_id = ?) "
                f"AND (v.plan_id IN ({marks}) OR (v.plan_id IS NULL AND v.at >= ?)) "
                "ORDER BY v.at, v.id", (plan.id, *chain, first.made_at)).fetchall()
        return {node_id: (outcome, float(at), note) for node_id, outcome, at, note in rows}

    def last_plan_id(self) -> int:
        with self.reading() as db:
            return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM plans").fetchone()[0])
