"""Property tests of the node's queue of reports in flash (firmware/waste/outbox.py):
any sequence of pushes, pops and reboots keeps it a bounded FIFO that counts
exactly what it dropped, and no bytes in flash make it crash."""

from __future__ import annotations

from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from firmware.waste.outbox import MemStore, Outbox

# ("push", payload) | ("pop", None) | ("reload", None)
ops = st.lists(st.one_of(
    st.tuples(st.just("push"), st.binary(min_size=0, max_size=40)),
    st.tuples(st.sampled_from(["pop", "reload"]), st.none())), max_size=120)


@given(st.integers(1, 10), ops)
def test_any_pushes_pops_and_reboots_keep_a_bounded_fifo(
        capacity: int, steps: list[tuple[str, bytes | None]]) -> None:
    store = MemStore()
    lines: list[str] = []
    box = Outbox(store, capacity, lines.append)
    model: deque[bytes] = deque()
    overflow = 0
    for op, payload in steps:
        if op == "push":
            assert payload is not None
            gone = box.push("b", payload)
            if len(model) == capacity:
                assert gone == ("b", model.popleft())
                overflow += 1
            else:
                assert gone is None
            model.append(payload)
        elif op == "pop":
            box.pop()
            if model:
                model.popleft()
        else:
            box = Outbox(store, capacity, lines.append)
        assert len(box) == len(model) <= capacity
        assert [p for _, p in box.entries] == list(model)
        assert box.dropped == overflow
        assert box.must_flag == (overflow > 0)
        head = box.head()
        assert head == (("b", model[0]) if model else None)
    assert not lines


@given(st.binary(max_size=200))
def test_any_bytes_in_flash_give_a_queue_or_one_line_saying_why_not(data: bytes) -> None:
    store = MemStore()
    store.data = data
    lines: list[str] = []
    box = Outbox(store, 48, lines.append)
    assert len(lines) <= 1
    assert len(box) <= 48
    if lines:
        assert len(box) == 0 and "unreadable" in lines[0]
    box.push("b", b"\x01" * 12)
    assert Outbox(store, 48, lines.append).entries[-1] == ("b", b"\x01" * 12)
