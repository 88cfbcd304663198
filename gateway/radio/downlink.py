"""The gateway's LoRa transmissions, within its own duty cycle.

Everything the gateway says over LoRa goes out on 869.525 MHz (10 % of every
hour). Acknowledgements go first, in order of their deadline, and one whose
node has stopped waiting is dropped (the node retransmits and gets the cached
answer again); commands go when no acknowledgement waits; profile pushes
(a pole's zone profile and key) last, and only while the hour's airtime
leaves PUSH_RESERVE of the budget for answers and commands: a push can wait
for the next round, an answer cannot. The budget is
accounted with firmware/lora/duty_cycle.py in the bridge's own clock, with the same
record the bridge keeps, so the bridge never has to refuse what the gateway
sends (and the simulator's virtual time works unchanged).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware.lora import bridge_frame
from firmware.lora import plan as radio_plan
from firmware.lora.airtime import airtime_ms
from firmware.lora.bridge import DUTY_ENTRIES
from firmware.lora.bridge_frame import TxResult
from firmware.lora.duty_cycle import DutyCycle
from gateway.tasks import cancel

log = logging.getLogger("gateway.downlink")

ACK = 0
COMMAND = 1
PUSH = 2
POWER_DBM = radio_plan.DOWNLINK_POWER_DBM
COMMAND_TTL_MS = 5000
# How long a TX may take to be answered by the bridge beyond its airtime.
RESULT_SLACK_MS = 2000
# A bridge clock that jumps back further than this was restarted.
RESTART_MS = 60000
# Airtime of the hour (of its 10 %: 360 s) that profile pushes leave to
# answers and commands: half.
HOUR_BUDGET_MS = 3600 * 1000 // radio_plan.duty_divisor(radio_plan.DOWNLINK_KHZ)
PUSH_RESERVE_MS = HOUR_BUDGET_MS // 2


class BridgeClock:
    """The bridge's millisecond clock as seen from the gateway: 32-bit stamps
    unwrapped into one ever-growing count, and an estimate of it between
    stamps."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._mono = monotonic
        self._last32: int | None = None
        self._last = 0
        self._at = monotonic()

    def see(self, ms32: int) -> int:
        """Unwrap a stamp from a frame the bridge just sent."""
        if self._last32 is None:
            self._last32, self._last, self._at = ms32, ms32, self._mono()
            return ms32
        delta = (ms32 - self._last32) & 0xFFFFFFFF
        if delta < 1 << 31:
            self._last32, self._last, self._at = ms32, self._last + delta, self._mono()
            return self._last
        back = (1 << 32) - delta
        if back <= RESTART_MS:  # a stamp a little older than the last one
            return self._last - back
        # The bridge restarted: its count goes on from where the gateway
        # reckons it is, so that nothing already accounted is forgotten.
        now = self.now()
        self._last32, self._last, self._at = ms32, now, self._mono()
        return now

    def now(self) -> int:
        return self._last + int((self._mono() - self._at) * 1000)


@dataclass(order=True)
class Pending:
    priority: int
    deadline: float
    seq: int
    frame: bytes = field(compare=False)
    sf: int = field(compare=False)
    deferred: bool = field(default=False, compare=False)
    # Told True once the frame is on the air, False when it never went.
    sent: asyncio.Future[bool] | None = field(default=None, compare=False)


class Downlink:
    """`send` writes an encoded bridge frame to the radio (False when it is
    not connected)."""

    def __init__(self, send: Callable[[bytes], bool] | None = None,
                 clock: BridgeClock | None = None, power_dbm: int = POWER_DBM) -> None:
        self.send = send or (lambda data: False)
        self.clock = clock or BridgeClock()
        self.power_dbm = power_dbm
        self.freq_khz = radio_plan.DOWNLINK_KHZ
        self.duty = DutyCycle(DUTY_ENTRIES)
        self.counts: Counter[str] = Counter()
        self._queue: list[Pending] = []
        self._seq = itertools.count()
        self._tx_id = 0
        self._wake = asyncio.Event()
        self._result: asyncio.Future[TxResult] | None = None
        self._task: asyncio.Task[None] | None = None
        self._warned: set[str] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lora-downlink")

    async def stop(self) -> None:
        await cancel(self._task)
        for item in self._queue:  # whoever waits for a push: it never went
            _tell(item, False)
        self._queue.clear()

    def ack(self, frame: bytes, sf: int, deadline_ms: int) -> None:
        """An answer to an uplink, to start on air by deadline_ms (bridge
        clock) or not at all."""
        self._put(Pending(ACK, deadline_ms, next(self._seq), frame, sf))

    def command(self, frame: bytes, sf: int, ttl_ms: int = COMMAND_TTL_MS) -> None:
        """A request to nodes (a brighten command), after any answer that is
        due; dropped when it cannot start within ttl_ms: light ahead of
        someone is worth nothing once they have passed."""
        self._put(Pending(COMMAND, self.clock.now() + ttl_ms, next(self._seq), frame, sf))

    def push(self, frame: bytes, sf: int, ttl_ms: int) -> asyncio.Future[bool]:
        """A request that can wait (a pole's profile push): after answers and
        commands, within ttl_ms, and only while the hour leaves
        PUSH_RESERVE_MS of airtime to them. The future says whether it went
        on the air (False: dropped, for its deadline or the reserve)."""
        sent: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._put(Pending(PUSH, self.clock.now() + ttl_ms, next(self._seq), frame, sf,
                          sent=sent))
        return sent

    def waiting(self) -> int:
        return len(self._queue)

    def tx_result(self, result: TxResult) -> None:
        fut = self._result
        if fut is not None and not fut.done() and result.tx_id == self._tx_id:
            fut.set_result(result)
        else:
            self.counts["stray result"] += 1

    def _put(self, item: Pending) -> None:
        self._queue.append(item)
        self._wake.set()

    def _next(self, now: int) -> Pending | None:
        live = []
        for item in self._queue:
            if item.deadline < now:
                self.counts["dropped"] += 1
                _tell(item, False)
            else:
                live.append(item)
        self._queue = live
        return min(live) if live else None

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), max(seconds, 0.001))
        except TimeoutError:
            pass

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = self.clock.now()
            item = self._next(now)
            if item is None:
                await self._sleep(3600)
                continue
            air = airtime_ms(len(item.frame), item.sf)
            if item.priority == PUSH and \
                    self.duty.used_ms(self.freq_khz, now) + air > HOUR_BUDGET_MS - PUSH_RESERVE_MS:
                self._queue.remove(item)
                self.counts["push held back (airtime kept for answers)"] += 1
                _tell(item, False)
                continue
            wait = self.duty.wait_ms(self.freq_khz, air, now)
            if wait > 0:
                if not item.deferred:
                    item.deferred = True
                    self.counts["deferred"] += 1
                until = min(wait, item.deadline - now + 1)
                await self._sleep(until / 1000)
                continue
            self._queue.remove(item)
            await self._transmit(item, air, now)

    async def _transmit(self, item: Pending, air: int, now: int) -> None:
        self._tx_id = (self._tx_id + 1) & 0xFFFF
        fut: asyncio.Future[TxResult] = asyncio.get_running_loop().create_future()
        self._result = fut
        wire = bridge_frame.encode_tx(self._tx_id, self.freq_khz, item.sf, self.power_dbm,
                                      item.frame)
        if not self.send(wire):
            self.counts["no radio"] += 1
            _tell(item, False)
            return
        _tell(item, True)
        try:
            result = await asyncio.wait_for(fut, (air + RESULT_SLACK_MS) / 1000)
        except TimeoutError:
            # It may have gone out: count it where the gateway thinks it did.
            self.duty.record(self.freq_khz, air, now)
            self.counts["no result"] += 1
            self._warn("no result", "the bridge did not answer a TX; is its firmware current?")
            return
        finally:
            self._result = None
        if result.status == bridge_frame.TX_SENT:
            self.duty.record(self.freq_khz, result.airtime_ms, self.clock.see(result.bridge_ms))
            self.counts["sent"] += 1
        elif result.status == bridge_frame.TX_REFUSED_DUTY:
            self.counts["refused"] += 1
            self._warn("duty", "the bridge refused a TX over its duty cycle (restarted?); "
                               "the gateway's own accounting is behind it")
        elif result.status == bridge_frame.TX_REFUSED_BAD:
            self.counts["refused"] += 1
            self._warn("bad", "the bridge refused a TX as outside its radio plan")
        else:
            self.counts["radio error"] += 1
            self._warn("radio", "the bridge's radio failed to transmit")

    def _warn(self, key: str, line: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s (counted; further ones are not logged)", line)


def _tell(item: Pending, sent: bool) -> None:
    if item.sent is not None and not item.sent.done():
        item.sent.set_result(sent)
