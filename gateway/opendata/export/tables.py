"""Tables as the files carry them: each column's name, type, unit and
description (a Frictionless Table Schema field, the data dictionary), rows
written to CSV and to GeoJSON and read back the same.

A value is a string, a whole number, a number, a boolean or None (empty in
a CSV, null in GeoJSON: a value not known or not shown, never 0)."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any

Value = str | int | float | bool | None
Row = dict[str, Value]

# Table Schema types the tables use, and how each is written in a CSV.
TYPES = ("string", "integer", "number", "boolean", "date", "datetime")


class TableError(ValueError):
    """A file that does not hold the table it should; the message says where."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    unit: str | None = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None

    def descriptor(self) -> dict[str, Any]:
        """The Table Schema field."""
        out: dict[str, Any] = {"name": self.name, "type": self.type,
                               "description": self.description}
        if self.unit is not None:
            out["unit"] = self.unit
        constraints: dict[str, Any] = {}
        if self.required:
            constraints["required"] = True
        if self.minimum is not None:
            constraints["minimum"] = self.minimum
        if self.maximum is not None:
            constraints["maximum"] = self.maximum
        if constraints:
            out["constraints"] = constraints
        return out

    def text(self, value: Value) -> str:
        if value is None:
            return ""
        if self.type == "boolean":
            return "true" if value else "false"
        if self.type == "number":
            assert isinstance(value, int | float) and math.isfinite(value), (self.name, value)
            return repr(float(value)) if not float(value).is_integer() else str(int(value))
        return str(value)

    def parse(self, text: str) -> Value:
        if text == "":
            return None
        try:
            if self.type == "integer":
                return int(text)
            if self.type == "number":
                return float(text)
        except ValueError:
            raise TableError(f"column {self.name}: {text!r} is not a {self.type}") from None
        if self.type == "boolean":
            if text not in ("true", "false"):
                raise TableError(f"column {self.name}: {text!r} is not true or false")
            return text == "true"
        return text


@dataclass(frozen=True)
class Table:
    name: str  # the resource's name, and its CSV file's without .csv
    title: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def csv_name(self) -> str:
        return f"{self.name}.csv"

    def schema(self) -> dict[str, Any]:
        """The Table Schema: the data dictionary of the CSV."""
        return {"fields": [c.descriptor() for c in self.columns],
                "missingValues": [""], "primaryKey": list(self.key)}

    def to_csv(self, rows: list[Row]) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow([c.name for c in self.columns])
        for row in rows:
            w.writerow([c.text(row.get(c.name)) for c in self.columns])
        return out.getvalue()

    def read_csv(self, text: str) -> list[Row]:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        names = [c.name for c in self.columns]
        if header != names:
            raise TableError(f"{self.csv_name}: the header is {header}, not {names}")
        rows = []
        for n, cells in enumerate(reader, start=2):
            if len(cells) != len(names):
                raise TableError(f"{self.csv_name} line {n}: {len(cells)} cells, "
                                 f"not {len(names)}")
            rows.append({c.name: c.parse(v) for c, v in zip(self.columns, cells, strict=True)})
        return rows

    def to_geojson(self, rows: list[Row], lat: str = "lat", lon: str = "lon") -> str:
        """A FeatureCollection of Points (WGS84, longitude first), each row's
        columns its properties, its position as well."""
        features = []
        for row in rows:
            props = {c.name: row.get(c.name) for c in self.columns}
            features.append({"type": "Feature",
                             "geometry": {"type": "Point",
                                          "coordinates": [row[lon], row[lat]]},
                             "properties": props})
        return json.dumps({"type": "FeatureCollection", "features": features},
                          ensure_ascii=False, indent=1) + "\n"

    def read_geojson(self, text: str) -> list[Row]:
        try:
            doc = json.loads(text)
            features = doc["features"]
            rows = [{c.name: f["properties"].get(c.name) for c in self.columns}
                    for f in features]
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise TableError(f"{self.name}.geojson is not its FeatureCollection: {e}") from None
        return rows
