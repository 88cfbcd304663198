"""A simulated light node running the real firmware with its key and kid, on
a real UDP socket, and the gateway's profile push (aiocoap's client with the
gateway's context for that node): protected, the profile is applied; without
protection, or protected with another key, or a recorded push replayed, it is
refused and nothing changes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping

import aiocoap
from aiocoap.numbers.codes import Code

from firmware.lighting import payload as light_codec
from firmware.lighting.node import LightNode
from gateway.lighting.commands import push_profile
from gateway.security.contexts import ContextState, NodeContext
from sim.district import node_key
from sim.engine import Engine
from sim.hal import PresenceInput, RecordingLed, SimHal
from sim.runner import node_config

KID = b"\x05"
PROFILE = light_codec.Profile(9, 30, 90, 45, 5, 20, 50, 10)


def light_node() -> tuple[LightNode, SimHal]:
    engine = Engine(1_790_000_000)
    nowhere = ("127.0.0.1", 9)
    hal = SimHal(engine.clock, nowhere, 1)
    hal.led, hal.presence = RecordingLed(engine.clock), PresenceInput()
    cfg = node_config("L1", "light", nowhere, addr=1, key=node_key("L1"), kid=KID.hex())
    return LightNode(cfg, hal), hal


def gateway_context(key: str) -> NodeContext:
    return NodeContext("L1", KID, bytes.fromhex(key), ContextState(0, None), lambda c: None)


async def push(node: LightNode, hal: SimHal, contexts: Mapping[str, object]) -> str:
    """push_profile to the node while the node polls its socket."""
    addr = hal.net.sock.getsockname()
    done = False

    async def run_node() -> None:
        while not done:
            node.poll()
            await asyncio.sleep(0.002)

    runner = asyncio.ensure_future(run_node())
    try:
        results = await push_profile({"L1": addr}, PROFILE, 5.0, contexts=contexts)
    finally:
        done = True
        await runner
    return results["L1"]


def test_a_profile_push_is_applied_only_when_protected_with_the_nodes_context() -> None:
    node, hal = light_node()
    try:
        assert asyncio.run(push(node, hal, {})).startswith("refused: 4.01")
        forged = asyncio.run(push(node, hal, {"L1": gateway_context("ff" * 16)}))
        assert forged.startswith("refused: 4.0") and "unprotected" in forged
        assert node.profile.revision == 0 and hal.settings.data == b""
        ctx = gateway_context(node_key("L1"))
        assert asyncio.run(push(node, hal, {"L1": ctx})) == "acknowledged"
        assert node.profile.revision == 9 and node.profile.idle_pct == 30
        assert hal.settings.data == light_codec.encode_profile(PROFILE)
    finally:
        hal.net.close()


def test_a_recorded_push_replayed_changes_nothing() -> None:
    node, hal = light_node()
    try:
        ctx = gateway_context(node_key("L1"))
        # A push recorded off the network: the protected bytes of revision 3.
        old = light_codec.Profile(3, 10, 60, 45, 5, 20, 50, 10)
        msg = aiocoap.Message(code=Code.POST, uri="coap://node/z",
                              payload=light_codec.encode_profile(old))
        msg.direction = aiocoap.message.Direction.OUTGOING
        protected, _ = ctx.protect(msg)
        protected.mtype, protected.mid, protected.token = aiocoap.CON, 0x4242, b"\x01"
        recorded = bytes(protected.encode())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.05)
            s.sendto(recorded, hal.net.sock.getsockname())
            for _ in range(50):
                node.poll()
        assert node.profile.revision == 3
        assert asyncio.run(push(node, hal, {"L1": ctx})) == "acknowledged"
        assert node.profile.revision == 9
        # The recording again, with another message id: refused, nothing changes.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.01)
            s.sendto(recorded[:2] + b"\x43\x43" + recorded[4:], hal.net.sock.getsockname())
            answer = None
            for _ in range(200):
                node.poll()
                try:
                    answer = aiocoap.Message.decode(s.recv(1500))
                    break
                except (TimeoutError, BlockingIOError):
                    continue
        assert answer is not None and answer.code == Code.UNAUTHORIZED
        assert node.profile.revision == 9
    finally:
        hal.net.close()
