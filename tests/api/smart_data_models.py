"""The FIWARE Smart Data Models' JSON Schemas, as the pysmartdatamodels
package ships them: its wheel carries each model's attributes (type, format,
enumeration, NGSI-LD kind) and each model's required attributes, not the
schema.json files themselves (those it fetches from the network, which a test
may not). The schemas are put together here from those files, for both forms
an NGSI-LD answer takes: keyValues (each attribute its value) and normalized
(each a Property, Relationship or GeoProperty)."""

from __future__ import annotations

import functools
import gzip
import json
from datetime import datetime
from importlib import resources
from typing import Any

import jsonschema

GEOMETRIES = ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"]
GEOJSON = {"type": "object", "required": ["type", "coordinates"],
           "properties": {"type": {"enum": GEOMETRIES}, "coordinates": {"type": "array"}}}


@functools.cache
def _assets() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    root = resources.files("pysmartdatamodels") / "model-assets"
    with (root / "smartdatamodels.json.gz").open("rb") as f:
        attributes = json.load(gzip.open(f))
    with (root / "datamodels_metadata.json").open("rb") as f:
        metadata = json.load(f)
    return attributes, metadata


@functools.cache
def _attributes(model: str) -> dict[str, dict[str, Any]]:
    """Each top-level attribute of the model with its published schema and
    NGSI-LD kind."""
    out = {}
    for rec in _assets()[0]:
        if rec.get("dataModel") != model or "parentId" in rec or "typeNGSI" not in rec:
            continue
        schema: dict[str, Any] = {"type": rec["type"]}
        for key in ("format", "enum", "minimum", "maximum"):
            if key in rec:
                schema[key] = rec[key]
        if rec["property"] == "location":
            schema = GEOJSON
        out[rec["property"]] = {"schema": schema, "kind": rec["typeNGSI"]}
    return out


def _required(model: str) -> list[str]:
    found = [m for m in _assets()[1] if m.get("dataModel") == model]
    assert found, f"pysmartdatamodels does not know {model}"
    return list(found[0]["required"])


@functools.cache
def schema(model: str, normalized: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"@context": {}}
    for name, a in _attributes(model).items():
        s = a["schema"]
        if name == "id":
            props[name] = {"type": "string"}
        elif name == "type":
            props[name] = {"const": model}
        elif not normalized:
            props[name] = s
        elif a["kind"] == "Relationship":
            props[name] = {"type": "object", "required": ["type", "object"],
                           "properties": {"type": {"const": "Relationship"}, "object": s}}
        elif a["kind"] == "GeoProperty":
            props[name] = {"type": "object", "required": ["type", "value"],
                           "properties": {"type": {"const": "GeoProperty"}, "value": s}}
        else:
            value = s
            if s.get("format") == "date-time":
                value = {"anyOf": [s, {"type": "object", "required": ["@type", "@value"],
                                       "properties": {"@type": {"const": "DateTime"},
                                                      "@value": s}}]}
            props[name] = {"type": "object", "required": ["type", "value"],
                           "properties": {"type": {"const": "Property"}, "value": value,
                                          "observedAt": {"type": "string",
                                                         "format": "date-time"},
                                          "unitCode": {"type": "string"}}}
    return {"type": "object", "required": _required(model), "properties": props,
            "additionalProperties": False}


_formats = jsonschema.FormatChecker()


@_formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def validate(entity: dict[str, Any], normalized: bool) -> None:
    """Raises jsonschema.ValidationError when the entity breaks its model."""
    jsonschema.Draft202012Validator(schema(entity["type"], normalized),
                                    format_checker=_formats).validate(entity)
