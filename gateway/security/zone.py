"""Zone keys at the gateway: the sending end of each zone's group key, with
which a Brighten command for several poles of a zone is protected once and
sent to all of them (over Wi-Fi the same bytes to each, over LoRa one frame).

The construction (docs/security.md, "Brighten commands"): OSCORE (RFC 8613)
with the zone key as Master Secret, the zone key's gid as ID Context, the
gateway's empty Sender ID, AES-CCM-16-64-128 and HKDF-SHA256 -- Group OSCORE's
group mode without its countersignature. The gateway is the key's only
sender, so its sequence number alone keeps every nonce fresh; the numbers are
written ahead in chunks (RFC 8613 Appendix B.1.1), the next chunk in the
background before the current one runs out, so a command never waits for the
disk. The protection is aiocoap's own; the poles' is firmware/oscore/, so two
implementations meet here too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiocoap
from aiocoap import oscore
from aiocoap.numbers.codes import Code
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from firmware.lighting import payload as light_codec
from firmware.proto.paths import BRIGHTEN_PATH
from gateway.security import aead
from gateway.security.contexts import SEQNO_CHUNK as NODE_SEQNO_CHUNK
from gateway.security.contexts import NodeContext
from gateway.storage.security import kid_bytes
from gateway.storage.store import Store
from gateway.storage.zone_keys import ZoneKeyRow

ALGORITHM = "AES-CCM-16-64-128"
GATEWAY_ID = b""
SEQNO_CHUNK = 10_000  # a crash skips at most this many numbers (of 2**40)
# Never used to send or receive: aiocoap's context derives a recipient key too.
NO_RECIPIENT = b"\xff"


class ZoneContext(oscore.CanProtect, oscore.SecurityContextUtils):  # type: ignore[misc]
    """The gateway's sending end of one zone key."""

    def __init__(self, row: ZoneKeyRow, persist: Callable[[ZoneContext, int, bool], None]
                 ) -> None:
        self.zone = row.zone
        self.gid = row.gid
        self.alg_aead = oscore.algorithms[ALGORITHM]
        self.hashfun = oscore.hashfunctions["sha256"]
        self.sender_id = GATEWAY_ID
        self.recipient_id = NO_RECIPIENT
        self.id_context = kid_bytes(row.gid)
        self.derive_keys(b"", row.key)
        self._aead = AESCCM(self.sender_key, tag_length=8)
        # What a pole of the zone is given inside its protected profile push.
        self.key_part = light_codec.encode_zone_key(self.id_context, row.key)
        self.sender_sequence_number = row.next_to_send
        self.persisted = row.next_to_send  # numbers below it are safe to use
        self.ahead_pending = False
        self._persist = persist

    def __repr__(self) -> str:
        return f"<ZoneContext {self.zone!r} gid {self.gid}>"

    def post_seqnoincrease(self) -> None:
        n = self.sender_sequence_number
        if n > self.persisted:  # the chunk ahead did not come in time
            self.persisted = n + SEQNO_CHUNK
            self._persist(self, self.persisted, True)
        elif n > self.persisted - SEQNO_CHUNK // 2 and not self.ahead_pending:
            self.ahead_pending = True
            self._persist(self, self.persisted + SEQNO_CHUNK, False)

    def protect_brighten(self, payload: bytes, mid: int) -> bytes:
        """The protected NON POST /c carrying `payload`, as bytes: no token,
        the Uri-Path inside, nothing outside but the OSCORE option.

        Built here rather than with aiocoap's protect(), which spends some
        200 us deep-copying the message: this is on the path where a command
        must leave within a millisecond of the event. The keys, the nonce's
        IV and the sequence numbers are aiocoap's context's, the AEAD is the
        cryptography package's AES-CCM, and the tests check the bytes are
        exactly what aiocoap's protect() makes."""
        n: int = self.new_sequence_number()
        piv = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
        sealed: bytes = self._aead.encrypt(aead.nonce(self.common_iv, GATEWAY_ID, piv),
                                           _INNER_POST_C + payload, aead.aad(GATEWAY_ID, piv))
        gid = bytes(self.id_context)
        option = bytes((0x18 | len(piv),)) + piv + bytes((len(gid),)) + gid
        return (bytes((0x50, 0x02, mid >> 8 & 0xFF, mid & 0xFF, 0x90 | len(option)))
                + option + b"\xff" + sealed)

    def protect_with_aiocoap(self, payload: bytes, mid: int) -> bytes:
        """The same frame made by aiocoap's own protect(): the reference the
        tests hold protect_brighten() to."""
        msg = aiocoap.Message(code=Code.POST, uri_path=(BRIGHTEN_PATH,), payload=payload)
        msg.direction = aiocoap.message.Direction.OUTGOING
        protected, _ = self.protect(msg)
        protected.mtype, protected.mid, protected.token = aiocoap.NON, mid, b""
        return bytes(protected.encode())


# code POST, Uri-Path "c" (option 11, 1 byte), payload marker
_INNER_POST_C = b"\x02\xb1" + BRIGHTEN_PATH.encode() + b"\xff"


class ZoneKeys:
    """Every zone's current key, as the running gateway sends with it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_zone: dict[str, ZoneContext] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def load(self, zones: list[str]) -> None:
        """Make keys for zones without one, and take up rotated keys (in a
        thread: it reads and writes the database)."""
        self.store.ensure_zone_keys(zones)
        rows = self.store.zone_keys()
        for zone, row in rows.items():
            have = self.by_zone.get(zone)
            if have is None or have.gid != row.gid:
                # The first chunk is written ahead here, off the event loop:
                # a command never waits for the disk.
                bound = row.next_to_send + SEQNO_CHUNK
                self.store.save_zone_sequence(row.gid, bound)
                ctx = ZoneContext(row, self._persist)
                ctx.persisted = bound
                self.by_zone[zone] = ctx
        for zone in set(self.by_zone) - set(rows):
            del self.by_zone[zone]

    def get(self, zone: str) -> ZoneContext | None:
        return self.by_zone.get(zone)

    def _persist(self, ctx: ZoneContext, bound: int, now: bool) -> None:
        if now:
            self.store.save_zone_sequence(ctx.gid, bound)
            return

        async def ahead() -> None:
            try:
                await asyncio.to_thread(self.store.save_zone_sequence, ctx.gid, bound)
                ctx.persisted = max(ctx.persisted, bound)
            finally:
                ctx.ahead_pending = False

        try:
            task = asyncio.get_running_loop().create_task(ahead())
        except RuntimeError:  # no loop (a tool): write it now
            self.store.save_zone_sequence(ctx.gid, bound)
            ctx.persisted = max(ctx.persisted, bound)
            ctx.ahead_pending = False
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def write_ahead(store: Store, contexts: list[object]) -> None:
    """Before pushing to many poles: each node context whose next sequence
    number is not yet covered gets its bound written ahead, all in one
    transaction in a thread. Otherwise each first push would write its own
    bound synchronously on the event loop (NodeContext.post_seqnoincrease),
    which for a zone's worth of poles holds up the light wave for seconds."""
    due = [c for c in contexts if isinstance(c, NodeContext)
           and c.sender_sequence_number >= c.sequence_number_persisted]
    if not due:
        return
    bounds = {c.node_id: c.sender_sequence_number + NODE_SEQNO_CHUNK for c in due}
    await asyncio.to_thread(store.save_oscore_states,
                            [(n, b, None) for n, b in bounds.items()])
    for c in due:
        c.sequence_number_persisted = max(c.sequence_number_persisted, bounds[c.node_id])
