"""The FIWARE Smart Data Models' published JSON Schemas (schema.json of
WasteContainer, Streetlight, StreetlightGroup and Device, with the common and
device schemas they refer to), carried in tests/data/smart-data-models under
their CC BY 4.0 licence, so that a test needs no network.

The published schemas describe an entity in its keyValues form. A normalized
entity is checked in two steps: each attribute has the NGSI-LD form its model
declares (the schemas' descriptions begin "Property.", "Relationship." or
"GeoProperty."), and its values, taken out, keep to the schema. The schemas
allow attributes they do not name; an entity of ours may not: every attribute
it has is one its model defines, so a misspelt or invented attribute fails."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "smart-data-models"
MODELS = ("WasteContainer", "Streetlight", "StreetlightGroup", "Device")
KINDS = ("GeoProperty", "Relationship", "Property")  # GeoProperty before Property


@functools.cache
def _registry() -> tuple[Registry, dict[str, dict[str, Any]]]:
    registry: Registry = Registry()
    schemas = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        contents = json.loads(path.read_text())
        registry = registry.with_resource(contents["$id"], Resource.from_contents(contents))
        schemas[path.name] = contents
    return registry, schemas


def schema(model: str) -> dict[str, Any]:
    found = _registry()[1].get(f"{model}.schema.json")
    assert found is not None, f"no published schema for {model} in {SCHEMAS}"
    return found


def _kind(prop: dict[str, Any]) -> str | None:
    texts = [prop.get("description", "")]
    texts += [alt.get("description", "") for alt in prop.get("oneOf", prop.get("anyOf", []))]
    for text in texts:
        for kind in KINDS:
            if text.strip().startswith(kind + "."):
                return kind
    return None


def _properties(node: dict[str, Any], registry: Registry) -> dict[str, dict[str, Any]]:
    """Every attribute the schema defines, through its allOf and $refs."""
    out: dict[str, dict[str, Any]] = {}
    if "$ref" in node:
        resolved = registry.resolver().lookup(node["$ref"]).contents
        out.update(_properties(resolved, registry))
    for part in node.get("allOf", []):
        out.update(_properties(part, registry))
    out.update(node.get("properties", {}))
    return out


@functools.cache
def attributes(model: str) -> dict[str, str | None]:
    """The model's attributes, each with its NGSI-LD kind (None for id and type)."""
    registry = _registry()[0]
    return {name: (None if name in ("id", "type") else _kind(prop))
            for name, prop in _properties(schema(model), registry).items()}


_formats = jsonschema.FormatChecker()


@_formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def _key_values(entity: dict[str, Any], model: str) -> dict[str, Any]:
    """The normalized entity's values, after checking each attribute's form."""
    kinds = attributes(model)
    out: dict[str, Any] = {}
    for name, attr in entity.items():
        if name in ("id", "type") or name not in kinds:
            out[name] = attr
            continue
        kind = kinds[name] or "Property"
        if not isinstance(attr, dict) or attr.get("type") != kind:
            raise jsonschema.ValidationError(f"{name}: not a {kind}: {attr!r}")
        if kind == "Relationship":
            out[name] = attr["object"]
            continue
        value = attr["value"]
        if isinstance(value, dict) and value.get("@type") == "DateTime":
            value = value["@value"]
        out[name] = value
        for key in ("observedAt",):
            if key in attr and not _date_time(attr[key]):
                raise jsonschema.ValidationError(f"{name}.{key}: not a date-time")
        if set(attr) - {"type", "value", "observedAt", "unitCode"}:
            raise jsonschema.ValidationError(f"{name}: unexpected members {sorted(attr)}")
    return out


def validate(entity: dict[str, Any], normalized: bool) -> None:
    """Raises jsonschema.ValidationError when the entity breaks its model."""
    model = entity.get("type")
    if model not in MODELS:
        raise jsonschema.ValidationError(f"not a model carried here: {model!r}")
    body = {k: v for k, v in entity.items() if k != "@context"}
    unknown = set(body) - set(attributes(model))
    if unknown:
        raise jsonschema.ValidationError(f"{model} defines no {sorted(unknown)}")
    values = _key_values(body, model) if normalized else body
    jsonschema.Draft202012Validator(schema(model), registry=_registry()[0],
                                    format_checker=_formats).validate(values)
