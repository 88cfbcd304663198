"""The battery model's LoRa frame against the frame the node's own uplink
builds: the protected bin report, for every kid length and Partial IV
length a node has in its life."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bench.radio import protected_frame
from firmware import codec, energy


@given(kid=st.sampled_from(["07", "0107", "9f0a0b0c"]), sequence=st.integers(0, 2**40 - 1),
       fill=st.floats(0, 100), when=st.integers(0, 2**32 - 1))
def test_the_model_counts_the_bytes_the_node_sends(kid: str, sequence: int, fill: float,
                                                   when: int) -> None:
    report = codec.encode_bin_report(codec.BinReport(1, when, fill, 10, 3600))
    piv = max(1, (sequence.bit_length() + 7) // 8)
    assert len(protected_frame(report, kid, sequence)) == energy.lora_frame_bytes(
        len(kid) // 2, piv)
