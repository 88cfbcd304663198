# The queue of reports in flash (firmware/waste/outbox.py), in MicroPython and CPython.
from fakehal import FakeStore

from firmware.waste.outbox import Outbox


def _box(store=None, capacity=48):
    lines = []
    return Outbox(store or FakeStore(), capacity, lines.append), lines


def test_requests_come_out_oldest_first():
    box, _ = _box()
    assert len(box) == 0 and box.head() is None
    for i in range(3):
        box.push("b", bytes((i,)) * 12)
    assert len(box) == 3
    got = []
    while box.head() is not None:
        got.append(box.head())
        box.pop()
    assert got == [("b", bytes((i,)) * 12) for i in range(3)]
    box.pop()  # empty: nothing happens
    assert len(box) == 0


def test_a_full_queue_drops_the_oldest_counts_it_and_asks_for_the_flag():
    box, _ = _box(capacity=3)
    gone = [box.push("b", bytes((i,))) for i in range(5)]
    assert gone == [None, None, None, ("b", b"\x00"), ("b", b"\x01")]
    assert [p for _, p in box.entries] == [b"\x02", b"\x03", b"\x04"]
    assert box.dropped == 2 and box.must_flag and box.full()
    box.pop()
    box.push("b", b"\x05", flagged=True)  # this one tells the gateway
    assert not box.must_flag and box.dropped == 2
    # A push that makes room and carries the flag itself leaves nothing to tell.
    box.push("b", b"\x06", flagged=True)
    assert not box.must_flag and box.dropped == 3


def test_the_queue_survives_a_reboot():
    store = FakeStore()
    box, _ = _box(store, capacity=2)
    for i in range(3):
        box.push("b", bytes((i,)) * 12)
    box.pop()
    again, lines = _box(store, capacity=2)
    assert again.entries == [("b", b"\x02" * 12)]
    assert again.dropped == 1 and again.must_flag and not lines
    # Saved at every change: the pop is kept too.
    again.pop()
    assert _box(store)[0].entries == []


def test_a_compact_layout():
    store = FakeStore()
    box, _ = _box(store)
    box.push("b", b"\x01" * 12)
    assert store.data == b"\x01\x00\x00\x00" + b"\x01b\x0c" + b"\x01" * 12


def test_an_unreadable_queue_starts_empty_and_says_so():
    good = FakeStore()
    _box(good)[0].push("b", b"\x01" * 12)
    for data in (b"\x01", good.data[:-1], b"\x07" + good.data[1:], good.data + b"\x00",
                 b"\x01\x00\x00\x00\x05b"):
        store = FakeStore()
        store.data = data
        box, lines = _box(store)
        assert len(box) == 0 and box.dropped == 0, data
        assert len(lines) == 1 and "unreadable" in lines[0], lines
        box.push("b", b"\x02")  # and works from there
        assert _box(store)[0].entries == [("b", b"\x02")]
    empty = FakeStore()
    box, lines = _box(empty)  # nothing stored yet: no complaint
    assert len(box) == 0 and not lines


def test_a_smaller_capacity_keeps_the_newest():
    store = FakeStore()
    box, _ = _box(store)
    for i in range(5):
        box.push("b", bytes((i,)))
    box, _ = _box(store, capacity=2)
    assert [p for _, p in box.entries] == [b"\x03", b"\x04"]
    assert box.dropped == 3 and box.must_flag


def test_a_request_too_long_for_the_layout_is_refused():
    box, _ = _box()
    try:
        box.push("b", bytes(256))
    except ValueError:
        pass
    else:
        raise AssertionError("accepted 256 bytes")
    assert len(box) == 0
