"""The simulated modem behind the micropython-lib API, and the gateway's radio
as a serial port."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import serial

from firmware.lora.airtime import airtime_us
from firmware.lora.plan import DOWNLINK_KHZ, UPLINK_KHZ, lora_cfg
from sim.engine import VirtualClock
from sim.lora_channel import Channel, RadioModel
from sim.lora_modem import RxPacket, SimModem
from sim.radio_port import RadioPort

FLAT = RadioModel(shadowing_db=0.0, fading_db=0.0)


class Air:
    """A channel with a gateway modem listening for uplinks at SF7 and modems
    added at a distance."""

    def __init__(self) -> None:
        self.clock = VirtualClock(0)
        self.channel = Channel(self.clock, seed=1, model=FLAT)
        self.gw = self.modem("gw", 0)
        self.gw.configure(lora_cfg(UPLINK_KHZ, 7, invert_iq_tx=True))
        self.gw.start_recv(continuous=True)

    def modem(self, name: str, x_m: float) -> SimModem:
        return SimModem(self.channel, self.channel.add_radio(name, x_m, 0))

    def node(self, name: str = "node", x_m: float = 300, sf: int = 7) -> SimModem:
        """A node listening for downlinks, as a light node does."""
        m = self.modem(name, x_m)
        m.configure(lora_cfg(DOWNLINK_KHZ, sf, invert_iq_rx=True))
        m.start_recv(continuous=True)
        return m

    def at(self, t_ms: int) -> None:
        self.clock.now_ms = max(self.clock.now_ms, t_ms)


def uplink(m: SimModem, data: bytes, sf: int = 7) -> int:
    """What a node does to send: standby, tune for the uplink, send, then
    listen for the downlink again."""
    m.standby()
    m.configure(lora_cfg(UPLINK_KHZ, sf))
    done = m.send(data)
    m.configure(lora_cfg(DOWNLINK_KHZ, sf, invert_iq_rx=True))
    m.start_recv(continuous=True)
    return done


def downlink(gw: SimModem, data: bytes, sf: int = 7) -> int:
    gw.standby()
    gw.configure(lora_cfg(DOWNLINK_KHZ, sf, invert_iq_tx=True))
    done = gw.send(data)
    gw.configure(lora_cfg(UPLINK_KHZ, sf, invert_iq_tx=True))
    gw.start_recv(continuous=True)
    return done


def test_an_uplink_reaches_the_gateway_with_its_rssi_and_snr() -> None:
    air = Air()
    node = air.node()
    done = uplink(node, b"report")
    assert done == math.ceil(airtime_us(6, 7) / 1000)
    assert air.gw.poll_recv() is True  # still on the air
    air.at(done)
    pkt = air.gw.poll_recv()
    assert isinstance(pkt, RxPacket)
    assert bytes(pkt) == b"report"
    assert pkt.ticks_ms == done
    assert pkt.valid_crc
    assert isinstance(pkt.rssi, int) and isinstance(pkt.snr, int)
    expected_rssi = 14 - (31.5 + 32 * math.log10(300))
    assert pkt.rssi == round(expected_rssi)
    assert pkt.snr == round((expected_rssi + 117.03) * 4)  # quarter dB
    assert air.gw.poll_recv() is True  # continuous: still receiving


def test_a_downlink_reaches_only_nodes_tuned_to_it() -> None:
    air = Air()
    node = air.node("node")
    other_sf = air.node("sf9 node", sf=9)
    normal_iq = air.modem("normal iq", 200)
    normal_iq.configure(lora_cfg(DOWNLINK_KHZ, 7))
    normal_iq.start_recv(continuous=True)
    done = downlink(air.gw, b"ack")
    air.at(done)
    pkt = node.poll_recv()
    assert isinstance(pkt, RxPacket) and bytes(pkt) == b"ack"
    assert other_sf.poll_recv() is True
    assert normal_iq.poll_recv() is True


def test_nodes_never_hear_each_others_uplinks() -> None:
    air = Air()
    a, b = air.node("a", 300), air.node("b", 310)
    done = uplink(a, b"from a")
    air.at(done)
    assert b.poll_recv() is True
    assert isinstance(air.gw.poll_recv(), RxPacket)


def test_the_gateway_does_not_hear_while_it_sends() -> None:
    air = Air()
    node = air.node()
    uplink(node, b"report")
    air.at(5)
    done = downlink(air.gw, b"command")  # starts while the report is on the air
    assert air.gw.poll_recv() is True  # sending: receiving resumes afterwards
    air.at(done)
    assert air.gw.poll_recv() is True  # the report was lost
    # Receiving again after the send:
    air.at(done + 10)
    again = uplink(node, b"again")
    air.at(again)
    pkt = air.gw.poll_recv()
    assert isinstance(pkt, RxPacket) and bytes(pkt) == b"again"


def test_what_the_firmware_does_after_send_takes_effect_when_the_send_is_over() -> None:
    """send() returns at once in virtual time; the node that then tunes to the
    downlink is still sending until the frame has ended."""
    air = Air()
    node = air.node()
    done = uplink(node, b"x" * 20)
    downlink(air.gw, b"too early")  # on the air while the node still sends
    air.at(done + 100)
    assert node.poll_recv() is True
    assert node.busy_until_ms == done


def test_poll_recv_states() -> None:
    air = Air()
    m = air.modem("m", 100)
    assert m.poll_recv() is False  # never started
    m.configure(lora_cfg(UPLINK_KHZ, 7))
    m.start_recv(timeout_ms=500)
    assert m.poll_recv() is True
    air.at(499)
    assert m.poll_recv() is True
    air.at(500)
    assert m.poll_recv() is False  # timed out
    assert m.poll_recv() is False

    # A single receive ends with its first frame.
    m.start_recv()
    sender = air.modem("sender", 200)
    sender.configure(lora_cfg(UPLINK_KHZ, 7))
    done = sender.send(b"one")
    air.at(done + 10)
    second = sender.send(b"two")
    air.at(second)
    pkt = m.poll_recv()
    assert isinstance(pkt, RxPacket) and bytes(pkt) == b"one"
    assert m.poll_recv() is False

    # standby ends a continuous receive.
    m.start_recv(continuous=True)
    assert m.poll_recv() is True
    m.standby()
    assert m.poll_recv() is False


def test_a_frame_after_the_timeout_is_not_received() -> None:
    air = Air()
    m = air.modem("m", 100)
    m.configure(lora_cfg(UPLINK_KHZ, 7))
    m.start_recv(timeout_ms=100)
    sender = air.modem("sender", 200)
    sender.configure(lora_cfg(UPLINK_KHZ, 7))
    air.at(150)
    air.at(sender.send(b"late"))
    assert m.poll_recv() is False


def test_a_frame_the_host_did_not_read_in_time_is_overwritten() -> None:
    air = Air()
    node = air.node()
    first = uplink(node, b"first")
    air.at(first + 5)
    air.at(uplink(node, b"second"))
    pkt = air.gw.poll_recv()
    assert isinstance(pkt, RxPacket) and bytes(pkt) == b"second"
    assert air.gw.overruns == 1


def test_rx_packet_is_reused_when_the_length_matches() -> None:
    air = Air()
    node = air.node()
    air.at(uplink(node, b"abc"))
    buf = RxPacket(b"xyz")
    pkt = air.gw.poll_recv(buf)
    assert pkt is buf and bytes(buf) == b"abc"


def test_a_powered_off_modem_hears_nothing_and_a_reboot_cuts_its_frame() -> None:
    air = Air()
    node = air.node()
    uplink(node, b"x" * 20)
    air.at(10)
    node.power_off()  # the node reboots mid-send
    air.at(1000)
    assert air.gw.poll_recv() is True  # nothing arrived
    assert air.channel.frames[0].cut and air.channel.frames[0].end_ms == 10
    with pytest.raises(RuntimeError):
        node.poll_recv()
    downlink(air.gw, b"to nobody")
    air.at(2000)
    node.power_on()
    assert node.poll_recv() is False  # as after reset: not receiving
    with pytest.raises(RuntimeError):
        node.send(b"unconfigured")


def test_configure_refuses_what_a_driver_refuses() -> None:
    air = Air()
    m = air.modem("m", 0)
    for bad in ({"sf": 13}, {"sf": 5}, {"sf": "7"}, {"bw": "100"}, {"coding_rate": 9},
                {"freq_khz": 100}, {"output_power": 30}, {"invert_iq_rx": "yes"},
                {"spreading_factor": 7}, {"implicit_header": True}):
        with pytest.raises(ValueError):
            m.configure(bad)
    m.configure(lora_cfg(UPLINK_KHZ, 12))
    assert m.get_time_on_air_us(25) == airtime_us(25, 12)
    with pytest.raises(ValueError):
        m.send(bytes(256))
    with pytest.raises(ValueError):
        m.start_recv(timeout_ms=10, continuous=True)
    m.start_recv(continuous=True)
    with pytest.raises(RuntimeError):
        m.configure({"sf": 7})  # the drivers refuse while receiving: standby() first


def test_sends_go_one_after_the_other_and_tx_at_waits() -> None:
    air = Air()
    m = air.modem("m", 100)
    m.configure(lora_cfg(UPLINK_KHZ, 7))
    first = m.send(b"a")
    second = m.send(b"b")
    frames = air.channel.frames
    assert frames[1].start_us == frames[0].end_us
    assert second > first
    third = m.send(b"c", tx_at_ms=5000)
    assert frames[2].start_ms == 5000 and third == math.ceil(frames[2].end_ms)


# --- the gateway's radio as a serial port --------------------------------------

def read_until(ser: serial.Serial, n: int) -> bytes:
    got = b""
    deadline = time.monotonic() + 5
    while len(got) < n and time.monotonic() < deadline:
        got += ser.read(n - len(got))
        time.sleep(0.001)
    return got


def port_read_until(port: RadioPort, n: int) -> bytes:
    got = b""
    deadline = time.monotonic() + 5
    while len(got) < n and time.monotonic() < deadline:
        got += port.read()
        time.sleep(0.001)
    return got


def test_the_radio_port_is_a_serial_port_for_pyserial(tmp_path: Path) -> None:
    with RadioPort(tmp_path / "radio") as port:
        ser = serial.serial_for_url(str(tmp_path / "radio"), 115200, timeout=0)
        frame = bytes(range(256))  # every byte value passes untouched (raw line)
        ser.write(frame)
        assert port_read_until(port, 256) == frame
        assert port.write(frame)
        assert read_until(ser, 256) == frame
        ser.close()


def test_unplugging_the_radio_fails_the_open_port_until_it_is_plugged_back(
        tmp_path: Path) -> None:
    path = str(tmp_path / "radio")
    with RadioPort(path) as port:
        ser = serial.serial_for_url(path, 115200, timeout=0)
        port.unplug()
        with pytest.raises(serial.SerialException):
            ser.write(b"x")
        with pytest.raises(serial.SerialException):
            ser.read(1)
        ser.close()
        with pytest.raises(serial.SerialException):
            serial.serial_for_url(path, 115200, timeout=0)
        assert not port.write(b"lost")
        assert port.read() == b""
        port.plug()
        ser = serial.serial_for_url(path, 115200, timeout=0)
        assert port.write(b"back")
        assert read_until(ser, 4) == b"back"
        ser.close()
        assert port.plugs == 2


def test_writing_to_a_gateway_that_does_not_read_drops_and_never_blocks(
        tmp_path: Path) -> None:
    with RadioPort(tmp_path / "radio", buffer_limit=4096) as port:
        ser = serial.serial_for_url(str(tmp_path / "radio"), 115200, timeout=0)
        accepted = sum(port.write(b"x" * 100) for _ in range(2000))  # 200 kB
        assert port.dropped_writes > 0
        assert accepted * 100 <= port.bytes_out
        assert port.bytes_out + port.dropped_bytes == 200_000
        # The gateway reads exactly what went through; then there is room again.
        assert len(read_until(ser, port.bytes_out)) == port.bytes_out
        assert ser.read(1) == b""
        assert port.write(b"x" * 100)
        ser.close()
