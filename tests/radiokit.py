"""For the LoRa tests: the radio bridge's end of a real serial line (a pty
master, playing the bridge with the firmware's own framing); the frames a
node puts on the air, made with the firmware's own uplink; a gateway that
requires OSCORE with its radio on the line; and a bin node on LoRa as it
runs (the firmware's BinNode and LoRa link), whose air is the test."""

from __future__ import annotations

import os
import select
import sqlite3
import sys
import time
import tty
from collections.abc import Callable
from pathlib import Path

from conftest import RunningGateway, launch_gateway

from firmware import codec
from firmware.lora import bridge_frame as bf
from firmware.lora import plan as radio_plan
from firmware.lora.net import LoraNet
from firmware.net.transport import Transport
from firmware.net.uplink import Uplink
from firmware.proto.paths import BIN_PATH
from firmware.settings import Config
from firmware.waste.node import BinNode
from sim.gateway_process import gateway_log_path

# The firmware tests' hardware layer and modem (MicroPython-clean, so usable
# here as they are).
sys.path.insert(0, str(Path(__file__).parent / "firmware"))
from fakehal import FakeHal, FakeModem, FakeRx, FakeStore  # noqa: E402

WAIT_S = 20.0


class _Clock:
    def ms(self) -> int:
        return 0


class _Net(Transport):
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sent.append(bytes(data))

    def recv(self) -> None:
        return None


class _Hal:
    """Just enough of a node's hardware layer for firmware.net.uplink.Uplink."""

    def __init__(self, mid: int) -> None:
        self.net = _Net()
        self.clock = _Clock()
        self.mid = mid

    def random_bits(self, n: int) -> int:
        return self.mid & ((1 << n) - 1)


def bin_frame(node_id: str, seq: int, mid: int, when: int = 1790000000,
              fill: float = 42.5) -> bytes:
    """The CoAP frame a bin node puts on the air for one report."""
    hal = _Hal(mid - 1)
    up = Uplink(node_id, hal, mid=mid - 1)
    up.post_confirmable(BIN_PATH, codec.encode_bin_report(
        codec.BinReport(seq, when, fill, 8, 3600)))
    return hal.net.sent[0]


def wait_until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


class Bridge:
    """The bridge's end of the serial line: a pty master."""

    def __init__(self, link: Path) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        link.unlink(missing_ok=True)
        link.symlink_to(os.ttyname(self.slave))
        self.reader = bf.FrameReader()
        self.ms = 10000
        self.pending: list[bf.Tx | bf.TxResult | bf.Hello | bf.Rx] = []
        self.held: list[bf.Tx] = []  # TXs sent and answered, not yet taken (next_ack)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def rx(self, frame: bytes, sf: int = 9, snr_q: int = -20, rssi: int = -110) -> None:
        self.ms += 500
        self.write(bf.encode_rx(self.ms, radio_plan.UPLINK_KHZ, sf, rssi, snr_q, frame))

    def next_tx(self) -> bf.Tx:
        """The next TX the gateway sends, answered as a bridge does."""
        if self.held:
            return self.held.pop(0)
        deadline = time.monotonic() + WAIT_S
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the gateway sent no TX frame")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                self.pending += [bf.decode(b) for b in self.reader.feed(
                    os.read(self.master, 4096))]
        tx = self.pending.pop(0)
        assert isinstance(tx, bf.Tx)
        self.ms += 20
        self.write(bf.encode_tx_result(tx.tx_id, bf.TX_SENT, self.ms, 50))
        return tx

    def next_ack(self) -> bf.Tx:
        """The next answer (ACK) the gateway sends; the gateway's own
        requests sent before it (a profile push the gateway started at the
        same moment) are kept for next_tx, in their order."""
        before: list[bf.Tx] = []
        while True:
            tx = self.next_tx()
            if tx.frame and tx.frame[0] >> 4 & 3 == 2:  # CoAP ACK
                self.held = before + self.held
                return tx
            before.append(tx)

    def poll_tx(self, wait: float = 0.3) -> bf.Tx | None:
        """The next TX if one comes within `wait` s, answered as a bridge does."""
        if not self.pending and not self.held:
            ready, _, _ = select.select([self.master], [], [], wait)
            if not ready:
                return None
        return self.next_tx()

    def quiet(self) -> bool:
        """True when the gateway has sent nothing more."""
        ready, _, _ = select.select([self.master], [], [], 0.3)
        return not ready and not self.pending and not self.held

    def unplug(self, link: Path) -> None:
        os.close(self.master)
        os.close(self.slave)
        link.unlink()




def stored(db: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT node_id, seq, measured_at FROM bin_reports ORDER BY id").fetchall()


def kid_of(db: Path, node_id: str) -> str:
    """The kid the gateway gave a node with a key (hex, as in config.json)."""
    with sqlite3.connect(db) as conn:
        return bytes(conn.execute("SELECT kid FROM oscore_contexts WHERE node_id = ?",
                                  (node_id,)).fetchone()[0]).hex()


def oscore_radio_gateway(tmp_path: Path, link: Path) -> RunningGateway:
    """A gateway that requires OSCORE, with its radio on `link`, on the
    database in tmp_path (the same one when started again)."""
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[gateway]\noscore = "required"\n')
    gw = launch_gateway(tmp_path, "--config", str(cfg), "--radio", str(link), oscore=None)
    wait_until("the radio to open", lambda: f"radio on {link} open" in
               gateway_log_path(gw.db).read_text(errors="replace"))
    return gw


class LoraBin:
    """A bin node on LoRa as it runs: the firmware's BinNode over the
    firmware's LoRa link (firmware/lora/net.py) on a modem whose air is the
    test (the tests' FakeModem: what it sends is read from modem.sent(),
    what it hears is put in modem.inbox). Woken as from deep sleep, RTC
    memory and flash kept between wakes."""

    def __init__(self, node_id: str, key: str, kid: str, temp_c: int = 12) -> None:
        self.cfg = Config({"id": node_id, "role": "bin", "transport": "lora",
                           "lora": {"sf": 9}, "key": key, "kid": kid,
                           "heartbeat_s": 3600})  # a report at every hourly wake
        self.hal = FakeHal(temp_c=temp_c)
        self.hal.clock.unix = int(time.time())
        self.hal.outbox = FakeStore()
        self.modem = FakeModem(self.hal.clock)
        self.node: BinNode | None = None

    def wake(self) -> BinNode:
        """A wake that makes a report and starts sending the queue."""
        hal = self.hal
        hal.net = LoraNet(self.modem, self.cfg.node_id, hal.clock, hal.log, sf=9, listen=False)
        node = self.node = BinNode(self.cfg, hal)
        assert node.wake()
        node.send()
        return node

    def last_sent(self) -> bytes:
        return self.modem.sent()[-1]

    def hear(self, frame: bytes) -> bool:
        """A frame on the downlink; True while the exchange goes on."""
        assert self.node is not None
        self.modem.inbox.append(FakeRx(frame))
        return bool(self.node.poll())

    def wait(self) -> bool:
        """Time passes to the node's next deadline; True while busy."""
        assert self.node is not None
        nxt = self.node.next_deadline_ms()
        if nxt is not None and nxt > self.hal.clock.ms():
            self.hal.clock.now_ms = nxt
        return bool(self.node.poll())

    def sleep(self) -> None:
        assert self.node is not None
        self.node.sleep()
        self.hal.net.sleep()
        self.hal.clock.advance(3600 * 1000)

    def queued_seqs(self) -> list[int]:
        assert self.node is not None
        return [codec.decode_bin_report(p).seq for _, p in self.node.outbox.entries]


class LoraPole:
    """A light pole on LoRa as it runs: the firmware's LightNode over the
    firmware's LoRa link, listening all the time, on a modem whose air is the
    test (what it sends: modem.sent(); what it hears: hear())."""

    def __init__(self, node_id: str, key: str, kid: str, addr: int, sf: int = 7) -> None:
        from firmware.lighting.node import LightNode

        self.node_id = node_id
        self.hal = FakeHal()
        self.hal.clock.unix = int(time.time())
        self.hal.settings = FakeStore()
        self.modem = FakeModem(self.hal.clock)
        self.hal.net = LoraNet(self.modem, node_id, self.hal.clock, self.hal.log, sf=sf,
                               listen=True)
        self.node = LightNode(Config({"id": node_id, "role": "light", "transport": "lora",
                                      "lora": {"sf": sf}, "key": key, "kid": kid,
                                      "addr": addr}), self.hal)
        self._seen = 0

    def status(self) -> bytes:
        """A confirmable status, protected: what the gateway first hears of it."""
        self.node._send_status(self.hal.clock.ms(), True)
        return self.new_frames()[-1]

    def hear(self, frame: bytes) -> list[bytes]:
        """A frame on the downlink; what the pole puts on the air in answer."""
        self.modem.inbox.append(FakeRx(frame))
        self.node.poll()
        return self.new_frames()

    def new_frames(self) -> list[bytes]:
        sent = self.modem.sent()
        out, self._seen = sent[self._seen:], len(sent)
        return out


def serve(bridge: Bridge, poles: list[LoraPole], until: Callable[[], bool],
          drop: Callable[[bf.Tx], bool] = lambda tx: False) -> list[bf.Tx]:
    """Play the air between the gateway and the poles until `until()`: every
    TX the gateway sends is heard by every pole (as on one channel), and what
    they answer is heard by the bridge. drop(tx): lost on the way. Returns
    the TXs."""
    txs = []
    deadline = time.monotonic() + WAIT_S * 3
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError("gave up serving the air")
        tx = bridge.poll_tx()
        if tx is None:
            continue
        txs.append(tx)
        if drop(tx):
            continue
        for pole in poles:
            for frame in pole.hear(tx.frame):
                bridge.rx(frame, sf=pole.hal.net.sf, snr_q=40)
    return txs


def zone_key_holders(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT node_id, gid FROM zone_key_holders").fetchall())
