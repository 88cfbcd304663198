# OSCORE's sequence numbers across deep sleep and power loss, and the replay
# window (firmware/oscore/sequence.py), in MicroPython and CPython.
from fakehal import FakeStore

from firmware.oscore.sequence import ContextExhausted, ReplayWindow, SenderSequence


def test_numbers_count_up_and_the_flash_stays_ahead():
    flash = FakeStore()
    seq = SenderSequence(flash, chunk=4)
    got = [seq.take() for _ in range(6)]
    assert got == [0, 1, 2, 3, 4, 5]
    assert flash.data == b"\x5e" + bytes(5) + b"\x08"  # saved before 4 was used


def test_after_deep_sleep_counting_goes_on_from_rtc_memory():
    flash = FakeStore()
    seq = SenderSequence(flash, chunk=10)
    for _ in range(3):
        seq.take()
    rtc = seq.state()
    writes = flash.data
    again = SenderSequence(flash, chunk=10, state=rtc)
    assert again.take() == 3 and flash.data == writes


def test_after_power_loss_counting_resumes_past_every_number_used():
    flash = FakeStore()
    seq = SenderSequence(flash, chunk=10)
    used = [seq.take() for _ in range(13)]
    again = SenderSequence(flash, chunk=10)  # RTC memory gone
    n = again.take()
    assert n > max(used) and n == 20
    # RTC memory that disagrees with the flash (another context's) is ignored.
    stale = SenderSequence(flash, chunk=10, state=b"\x5e" + bytes(12))
    assert stale.take() >= n
    assert SenderSequence(flash, chunk=10, state=b"junk").take() >= n


def test_the_last_sequence_number_is_the_last():
    seq = SenderSequence(FakeStore())
    seq.next = (1 << 40) - 1
    assert seq.take() == (1 << 40) - 1
    try:
        seq.take()
    except ContextExhausted:
        return
    raise AssertionError("a sequence number past 2**40 - 1")


def test_the_window_refuses_what_it_saw_and_what_is_too_old():
    w = ReplayWindow(FakeStore(), size=32)
    for n in (5, 7, 40):
        assert not w.seen(n)
        w.accept(n)
    assert w.seen(40) and w.seen(7) and w.seen(5)
    assert not w.seen(20) and not w.seen(39) and not w.seen(41)
    assert w.seen(8)  # 40 - 8 = 32: outside the window, refused
    assert not w.seen(9)
    w.accept(9)
    assert w.seen(9)
    w.accept(200)  # a jump clears the window
    assert w.seen(200) and not w.seen(199) and w.seen(100)


def test_the_window_survives_deep_sleep_and_power_loss():
    flash = FakeStore()
    w = ReplayWindow(flash, chunk=8)
    for n in (1, 2, 3, 10):
        w.accept(n)
    rtc = w.state()
    slept = ReplayWindow(flash, chunk=8, state=rtc)
    assert slept.seen(10) and slept.seen(2) and not slept.seen(4) and not slept.seen(11)
    # Power loss: nothing at or below anything accepted goes again; the
    # peer's numbers up to the bound in flash are refused too.
    cold = ReplayWindow(flash, chunk=8)
    assert all(cold.seen(n) for n in range(0, 19))
    assert not cold.seen(19)
    cold.accept(19)
    assert cold.seen(19) and not cold.seen(20)


def test_a_new_context_starts_empty():
    w = ReplayWindow(FakeStore())
    assert not w.seen(0)
    seq = SenderSequence(FakeStore())
    assert seq.take() == 0
