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

from firmware.lighting import payload as light_codec
from firmware.proto.paths import BRIGHTEN_PATH
from gateway.storage.security import kid_bytes
from gateway.storage.store import Store
from gateway.storage.zone_keys import ZoneKeyRow

ALGORITHM = "AES-CCM-16-64-128"
GATEWAY_ID = b""
SEQNO_CHUNK = 1000
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
        the Uri-Path inside, nothing outside but the OSCORE option."""
        msg = aiocoap.Message(code=Code.POST, uri_path=(BRIGHTEN_PATH,), payload=payload)
        msg.direction = aiocoap.message.Direction.OUTGOING
        protected, _ = self.protect(msg)
        protected.mtype, protected.mid, protected.token = aiocoap.NON, mid, b""
        return bytes(protected.encode())


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
                self.by_zone[zone] = ZoneContext(row, self._persist)
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
