"""Properties of the radio bridge's serial framing: the line may cut bytes
anywhere and carry any noise, and the reader still yields exactly the frames
that were sent, and never a frame whose CRC is wrong."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware.lora import bridge_frame as bf

radio_frames = st.binary(min_size=1, max_size=bf.MAX_RADIO_FRAME)
u32 = st.integers(0, 0xFFFFFFFF)
sfs = st.integers(7, 12)

bodies = st.one_of(
    st.builds(bf.rx_body, u32, u32, sfs, st.integers(-32768, 32767), st.integers(-128, 127),
              radio_frames),
    st.builds(bf.tx_body, st.integers(0, 0xFFFF), u32, sfs, st.integers(-128, 127),
              radio_frames),
    st.builds(bf.tx_result_body, st.integers(0, 0xFFFF), st.integers(0, 3), u32,
              st.integers(0, 0xFFFF)),
    st.builds(bf.hello_body, u32, st.lists(st.tuples(u32, sfs), max_size=bf.MAX_RECEIVERS)),
)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


@given(st.lists(bodies, max_size=8), st.lists(st.integers(0, 10_000), max_size=30))
def test_frames_come_back_whole_however_the_line_cuts_them(
        sent: list[bytes], cuts: list[int]) -> None:
    wire = b"".join(bf.slip(b) for b in sent)
    reader = bf.FrameReader()
    got = [body for chunk in chunked(wire, cuts) for body in reader.feed(chunk)]
    assert got == sent
    assert reader.counts() == {"garbage": 0, "bad crc": 0, "too long": 0}
    for body in got:
        frame = bf.decode(body)
        assert body[0] in (bf.KIND_RX, bf.KIND_TX, bf.KIND_TX_RESULT, bf.KIND_HELLO)
        assert frame is not None


@given(st.binary(max_size=2000), st.lists(st.integers(0, 10_000), max_size=30))
def test_noise_never_raises_and_never_passes_a_bad_crc(noise: bytes, cuts: list[int]) -> None:
    reader = bf.FrameReader()
    for chunk in chunked(noise, cuts):
        for body in reader.feed(chunk):
            # Whatever passes was on the line with its own, matching CRC.
            assert bf.slip(body)[1:-1] in noise
            try:
                bf.decode(body)
            except bf.FrameError as e:
                assert e.reason in ("unknown kind", "bad length", "too long")


@given(st.binary(max_size=300), bodies, st.binary(max_size=300))
def test_a_frame_after_noise_is_still_found(before: bytes, body: bytes, after: bytes) -> None:
    reader = bf.FrameReader()
    got = reader.feed(before) + reader.feed(bf.slip(body)) + reader.feed(after)
    assert body in got


@given(bodies, st.integers(0, 10_000), st.integers(1, 255))
def test_a_corrupted_byte_is_never_taken_for_the_frame(body: bytes, where: int,
                                                      flip: int) -> None:
    wire = bytearray(bf.slip(body))
    i = 1 + where % (len(wire) - 2)
    wire[i] ^= flip
    got = bf.FrameReader().feed(bytes(wire))
    # CRC-16 catches every single-byte error; a corrupted delimiter or escape
    # may split the frame, but what comes out was on the line with its CRC.
    assert body not in got
    assert all(bf.slip(g)[1:-1] in wire for g in got)
