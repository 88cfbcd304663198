"""The self-test result a technician's laptop gives the gateway (PUT
/nodes/<id>/selftest): whatever bytes come, a SelfTest or the one-line
RegistrationError, never anything else; what the laptop sends comes back the
same."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from gateway.records import RegistrationError, SelfTest

NOW = 1790000000.0
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=16)
results = st.builds(
    lambda at, failed, fw, wifi: SelfTest(at, not failed, tuple(failed), fw, wifi),
    st.integers(1, int(NOW) + 300), st.lists(names, max_size=16),
    st.none() | st.text(alphabet="0123456789abcdef.-+v", min_size=1, max_size=40),
    st.none() | st.integers(-127, 0))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=6), max_leaves=12)


@given(results)
def test_what_the_laptop_sends_the_gateway_reads_back(result: SelfTest) -> None:
    assert SelfTest.from_json(result.to_json(), NOW) == result


@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
       | st.dictionaries(st.sampled_from(["at", "ok", "failed", "firmware", "wifi_dbm"]),
                         json_values).map(lambda v: json.dumps(v).encode()))
def test_anything_else_is_a_result_or_one_line_refusal(data: bytes) -> None:
    try:
        result = SelfTest.from_json(data, NOW)
    except RegistrationError as e:
        assert "\n" not in str(e) and str(e).startswith("self-test")
        return
    assert result.ok == (not result.failed) and 0 < result.at <= NOW + 300
    assert result.wifi_dbm is None or -127 <= result.wifi_dbm <= 0
