"""The published-schema check itself can fail: entities built by the gateway's
own builders pass, and each kind of break a provider could make is caught."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from smart_data_models import attributes, validate

from gateway.opendata.entities import BinFacts, key_values, waste_container

BIN = BinFacts(node_id="B0001", lon=18.066, lat=59.33, kind="240L", fill_pct=95.0,
               temp_c=21.0, measured_at=1_790_000_000.0, alarms=(), last_emptied=1_789_900_000.0,
               full_at=1_790_050_000.0)


def normalized() -> dict[str, Any]:
    return waste_container(BIN)


def test_the_gateways_own_bin_keeps_to_the_published_schema() -> None:
    validate(normalized(), normalized=True)
    validate(key_values(normalized()), normalized=False)


def _break(change: str) -> dict[str, Any]:
    e = copy.deepcopy(normalized())
    if change == "fill above one":
        e["fillingLevel"]["value"] = 1.5
    elif change == "status outside the enumeration":
        e["status"]["value"] = "onFire"
    elif change == "a relationship as a property":
        e["refDevice"] = {"type": "Property", "value": e["refDevice"]["object"]}
    elif change == "an attribute the model lacks":
        e["fillLevel"] = {"type": "Property", "value": 0.5}
    elif change == "no location":
        del e["location"]
    elif change == "a deadline that is no date":
        e["nextActuationDeadline"]["value"]["@value"] = "tomorrow"
    elif change == "another type's name":
        e["type"] = "WasteBin"
    return e


@pytest.mark.parametrize("change", ["fill above one", "status outside the enumeration",
                                    "a relationship as a property", "an attribute the model lacks",
                                    "no location", "a deadline that is no date",
                                    "another type's name"])
def test_each_break_is_caught(change: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(_break(change), normalized=True)


def test_the_models_define_what_the_gateway_sends() -> None:
    assert attributes("WasteContainer")["refDevice"] == "Relationship"
    assert attributes("WasteContainer")["location"] == "GeoProperty"
    assert attributes("StreetlightGroup")["refStreetlight"] == "Relationship"
    assert attributes("Streetlight")["powerState"] == "Property"
