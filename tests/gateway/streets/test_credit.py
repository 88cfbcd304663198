"""The credit a streets file carries (an OpenStreetMap export's ODbL), which
every map, sheet and file made from the streets shows."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from gateway.streets.geometry import credit, credit_of

NORRMALM = Path(__file__).resolve().parents[3] / "data" / "norrmalm"


def test_the_projects_openstreetmap_extracts_carry_the_odbl_credit() -> None:
    for name in ("streets.geojson", "waste-baskets.geojson", "addresses.geojson"):
        assert credit((NORRMALM / name).read_text()) == \
            "© OpenStreetMap contributors, ODbL-1.0", name
    assert "Open Database License" in (NORRMALM / "README.md").read_text()


def test_other_ways_files_carry_a_credit_and_files_without_one() -> None:
    assert credit_of({"metadata": {"source": "City of Gävle"}}) == "© City of Gävle"
    assert credit_of({"attribution": "© Lantmäteriet, CC0"}) == "© Lantmäteriet, CC0"
    overpass = {"osm3s": {"copyright": "The data included in this document is from "
                                       "www.openstreetmap.org. The data is made available "
                                       "under ODbL."}}
    assert "ODbL" in str(credit_of(overpass))
    for none in ({"type": "FeatureCollection", "features": []}, {"metadata": {"source": ""}},
                 {"metadata": "OSM"}, [], "x", None):
        assert credit_of(none) is None
    assert credit("not json {") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["metadata", "source", "license", "attribution", "osm3s",
                         "copyright", "type"]) | st.text(max_size=5), inner, max_size=4),
    max_leaves=12)


@given(json_values)
def test_any_json_gives_a_text_or_none(doc: object) -> None:
    found = credit(json.dumps(doc))
    assert found is None or (isinstance(found, str) and found)
