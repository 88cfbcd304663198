"""Checks of the daily open-data files that several suites share: their
GeoJSON against RFC 7946 as the files use it."""

from __future__ import annotations

import json

import jsonschema

# RFC 7946 as the files use it: a FeatureCollection of Points, WGS84,
# longitude first, each feature's properties an object.
GEOJSON_POINTS = {
    "type": "object", "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": {
            "type": "object", "required": ["type", "geometry", "properties"],
            "properties": {
                "type": {"const": "Feature"},
                "properties": {"type": ["object", "null"]},
                "geometry": {
                    "type": "object", "required": ["type", "coordinates"],
                    "properties": {
                        "type": {"const": "Point"},
                        "coordinates": {"type": "array", "minItems": 2, "maxItems": 3,
                                        "prefixItems": [
                                            {"type": "number", "minimum": -180,
                                             "maximum": 180},
                                            {"type": "number", "minimum": -90,
                                             "maximum": 90}],
                                        "items": {"type": "number"}}}}}}}}}


def valid_geojson_points(text: str) -> None:
    """A FeatureCollection of Points (WGS84, longitude first), or an
    assertion error saying where it is not."""
    try:
        jsonschema.validate(json.loads(text), GEOJSON_POINTS)
    except jsonschema.ValidationError as e:
        raise AssertionError(f"not RFC 7946 Points: {e.message} at {list(e.path)}") from None
