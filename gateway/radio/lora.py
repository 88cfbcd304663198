"""CoAP over LoRa: uplink frames from the radio bridge are rendered by the
gateway's own CoAP site (the same resources, ingest, writer and MQTT as over
UDP), and each answer goes back as a LoRa downlink.

Over the air a response is small: a piggybacked ACK (or a NON answer) with
the request's message id and token, and as payload only the 8-byte link
feedback (firmware/lora/link.py): the uplink's SNR, the spreading factor the
node shall use, whose answer this is, and the gateway's time. No diagnostic
text: airtime is the scarce thing here, and the gateway's log says why.

A request protected with OSCORE (RFC 8613) is unprotected with the context
of the kid it names, the same contexts, replay windows and Echo recovery as
over UDP (gateway/security/), and rendered as that node, as aiocoap's
OscoreSiteWrapper hands it to the resources over UDP. Its answer, the
feedback inside, is protected with that context reusing the request's
nonce: on the air only the OSCORE option (empty) and the ciphertext. A
frame that does not verify gets no answer over the air (its node would not
believe an unprotected one, and forgeries are not worth downlink airtime);
it is counted, and logged once per kind.

The gateway's own requests to a pole heard over LoRa (its zone profile, the
zone key inside: `push`) go the same way the other way round: a CON request
protected with the pole's own context, in the compact form (no token, the
Uri-Path inside), after answers and commands (gateway/radio/downlink.py), at
the SF the pole listens at. The pole's piggybacked ACK comes as an uplink
with the request's message id; only one that verifies against the request
counts. Unanswered, the same bytes go again after an ACK timeout that
doubles, PUSH_ATTEMPTS times at most.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping

import aiocoap
from aiocoap import error as coap_error
from aiocoap import interfaces, oscore
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type
from aiocoap.resource import Site
from aiocoap.transports.oscore import OSCOREAddress

from firmware.lora import plan as radio_plan
from firmware.lora.airtime import airtime_us
from firmware.lora.bridge_frame import Hello, Rx, Tx, TxResult
from firmware.lora.link import RESPONSE_LEN, adr_sf, encode_feedback, node_tag
from firmware.proto import coap
from gateway.radio.downlink import Downlink
from gateway.security.contexts import NodeContext, NodeCredentials

log = logging.getLogger("gateway.lora")

# A push to a pole over LoRa: transmissions at most, and how long one may
# wait for the downlink's turn before it is given up (the pole is tried
# again in a later round).
PUSH_ATTEMPTS = 3
PUSH_QUEUE_MS = 60000
# The pole's protected ACK: 4-byte header, the empty OSCORE option, payload
# marker, the code and the 8-byte tag.
PUSH_ACK_LEN = 4 + 1 + 1 + 1 + 8
# RFC 7252 EXCHANGE_LIFETIME: how long a node may repeat a message id.
EXCHANGE_LIFETIME_S = 247.0
CACHE_MAX = 20000
HISTORY = 8  # uplink SNRs kept per node for ADR
# The node's first ACK timeout (firmware/lora_net.py's ack_timeout_ms): at
# least 2 s, and at least uplink + response airtime + this for processing.
ACK_TIMEOUT_MIN_MS = 2000
PROCESSING_MS = 1000
OPT_OSCORE = 9

# What the cache of answers is keyed by: (node id, message id, payload) for
# an unprotected request; (kid, message id, the whole frame) for a protected
# one, whose retransmission is the same bytes and whose node id is inside.
CacheKey = tuple[str | bytes, int, bytes]

# RFC 7967 No-Response bits, by response class.
_NO_RESPONSE_BIT = {2: 0x02, 4: 0x08, 5: 0x10}


class LoraRemote(interfaces.EndpointAddress):  # type: ignore[misc]
    """Where a request over LoRa came from, as aiocoap's resources see it. It
    has no socket address: the registry refuses registrations over the air,
    and lighting learns no UDP address from it."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id

    @property
    def hostinfo(self) -> str:
        return "lora"

    @property
    def hostinfo_local(self) -> str:
        return "gateway"

    @property
    def uri_base(self) -> str:
        return "coap://lora"

    @property
    def uri_base_local(self) -> str:
        return "coap://gateway"

    @property
    def is_multicast(self) -> bool:
        return False

    @property
    def is_multicast_locally(self) -> bool:
        return False

    @property
    def scheme(self) -> str:
        return "coap"

    @property
    def blockwise_key(self) -> tuple[str, str]:
        return ("lora", self.node_id)


def snr_db10(snr_q: int) -> int:
    """Quarter dB (as modems report SNR) to tenths of a dB."""
    return snr_q * 10 // 4


def ack_deadline_ms(rx_end_ms: int, uplink_len: int, sf: int,
                    response_len: int = RESPONSE_LEN) -> int:
    """The latest bridge time an ACK of response_len bytes may start and still
    reach the node before its first timeout (counted from the start of its
    uplink; the node reckons with an answer of RESPONSE_LEN). sf: the
    uplink's; the answer goes at radio_plan.downlink_sf of it."""
    up = airtime_us(uplink_len, sf) // 1000
    down_sf = radio_plan.downlink_sf(sf)
    down = airtime_us(RESPONSE_LEN, down_sf) // 1000
    this = airtime_us(response_len, down_sf) // 1000
    return int(rx_end_ms + max(ACK_TIMEOUT_MIN_MS - up, down + PROCESSING_MS) - this)


class LoraLink:
    """site: the gateway's CoAP site. nodes: the registry (node id -> node).
    downlink: the scheduler answers go to. credentials: the nodes' OSCORE
    contexts (the keyring's, shared with the UDP site)."""

    def __init__(self, site: Site, nodes: Mapping[str, object], downlink: Downlink,
                 credentials: NodeCredentials | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 unix_time: Callable[[], float] = time.time,
                 oscore_required: bool = True) -> None:
        self.site = site
        self.nodes = nodes
        self.downlink = downlink
        self.credentials = credentials if credentials is not None else NodeCredentials()
        self.oscore_required = oscore_required
        self.counts: Counter[str] = Counter()
        self.sfs = list(range(radio_plan.SF_MIN, radio_plan.SF_MAX + 1))
        self.receivers: list[tuple[int, int]] = []
        self._clock = clock
        self._unix = unix_time
        self._snr: dict[str, deque[int]] = {}
        self.node_sf: dict[str, int] = {}  # the SF each node was last told to use
        # Told of each node's own uplink, as the bridge heard it: (node id,
        # RSSI dBm, SNR in quarter dB, SF), for the technician's screen.
        self.heard_signal: Callable[[str, int, int, int], None] | None = None
        # CacheKey -> (response frame or None, expiry)
        self._cache: OrderedDict[CacheKey, tuple[bytes | None, float]] = OrderedDict()
        self._inflight: set[CacheKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned: set[str] = set()
        self._mid = 0
        # Pushes waiting for their ACK: message id -> (node id, context, the
        # request's OSCORE identifiers, the outcome when the ACK verifies).
        self._pushes: dict[int, tuple[str, NodeContext, object, asyncio.Future[str]]] = {}

    # --- frames from the bridge ------------------------------------------
    def on_frame(self, frame: Rx | Tx | TxResult | Hello) -> None:
        if isinstance(frame, Rx):
            bridge_ms = self.downlink.clock.see(frame.bridge_ms)
            task = asyncio.create_task(self._uplink(frame, bridge_ms))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(frame, TxResult):
            self.downlink.tx_result(frame)
        elif isinstance(frame, Hello):
            self.downlink.clock.see(frame.bridge_ms)
            self.hello(frame)

    def hello(self, frame: Hello) -> None:
        if frame.version != 1:
            self._warn("version", f"the radio bridge speaks protocol version {frame.version}, "
                                  "this gateway 1; update the bridge's firmware")
        receivers = [(f, s) for f, s in frame.receivers]
        sfs = sorted({s for f, s in receivers if f == radio_plan.UPLINK_KHZ
                      and radio_plan.SF_MIN <= s <= radio_plan.SF_MAX})
        if receivers != self.receivers:
            self.receivers = receivers
            log.info("radio bridge listens on %s", ", ".join(
                f"{f / 1000:.3f} MHz SF{s}" for f, s in receivers) or "nothing")
            if not sfs:
                self._warn("no uplink", "the radio bridge has no receiver on the uplink "
                                        "channel; no LoRa node can be heard")
        if sfs:
            self.sfs = sfs

    async def stop(self) -> None:
        for _, _, _, outcome in self._pushes.values():
            if not outcome.done():
                outcome.set_result("no answer (the gateway stopped)")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- one uplink -------------------------------------------------------
    async def _uplink(self, rx: Rx, bridge_ms: int) -> None:
        try:
            await self.uplink(rx, bridge_ms)
        except Exception as e:  # one frame must never stop the radio path
            self._bad("failed", f"handling a frame heard on SF{rx.sf} failed: "
                                f"{type(e).__name__}: {e}")

    async def uplink(self, rx: Rx, bridge_ms: int) -> None:
        try:
            request = aiocoap.Message.decode(rx.frame)
            path = request.opt.uri_path
        except Exception as e:  # aiocoap raises several kinds for garbage
            self._bad("undecodable", f"a frame heard on {rx.freq_khz} kHz SF{rx.sf} is not "
                                     f"CoAP ({type(e).__name__}: {e})")
            return
        if request.mtype == Type.ACK and request.opt.oscore is not None:
            if request.mid in self._pushes:
                self._push_answer(request, rx)
            else:  # a pole's answer again, to a push already answered or given up
                self.counts["answer to no push"] += 1
            return
        if not request.code.is_request() or request.mtype not in (Type.CON, Type.NON):
            self._bad("not a request", f"a {request.mtype} {request.code} message came over "
                                       "LoRa; nodes only send requests there")
            return
        self.counts["uplinks"] += 1
        if request.opt.oscore is not None:
            await self._protected(request, rx, bridge_ms)
            return
        node_id = path[-1] if path else ""
        history = deque([snr_db10(rx.snr_q)], maxlen=HISTORY)
        # Anyone can name a node that has a key: an unprotected frame in its
        # name counts neither for its data rate nor for the SF it is thought
        # to listen at (whether it is taken is the resource's to decide).
        own = node_id in self.nodes and self.credentials.for_node(node_id) is None
        if self.oscore_required or not own:
            # Nothing such a frame says would be taken (the resources would
            # answer 4.01 or 4.04), and an answer on the air would spend the
            # gateway's downlink duty cycle for whoever sends one: counted,
            # not answered.
            if node_id not in self.nodes:
                self._bad("unknown node", f"an unprotected frame heard on SF{rx.sf} names "
                                          f"{node_id[:40]!r}, which is not registered")
            else:
                self.counts["unprotected: not answered"] += 1
            return
        history = self._heard(node_id, rx)

        key: CacheKey = (node_id, request.mid, request.payload)
        if self._answered_before(key, rx, bridge_ms):
            return
        self._inflight.add(key)
        try:
            request.remote = LoraRemote(node_id)
            response = await self._render(request, node_id)
        finally:
            self._inflight.discard(key)
        frame = None
        if not self._unwanted(request, response):
            msg = self._compact(request, int(response.code or Code.CHANGED), [],
                                self._feedback(list(history), rx.sf, node_id, own))
            frame = bytes(coap.encode(msg))
        self._keep(key, frame, rx, bridge_ms)

    async def _protected(self, request: aiocoap.Message, rx: Rx, bridge_ms: int) -> None:
        """A request with the OSCORE option: unprotected with its kid's
        context, rendered as that node, answered protected."""
        try:
            fields = oscore.verify_start(request)
        except Exception as e:  # aiocoap raises several kinds for a garbled option
            self._bad("oscore: malformed", f"a frame heard on SF{rx.sf} has a malformed "
                                           f"OSCORE option ({type(e).__name__}: {e})")
            return
        try:
            found = self.credentials.find_oscore(fields)
        except KeyError:
            found = None
        if not isinstance(found, NodeContext):
            # Technicians' credentials are for the gateway's management
            # requests over the network, never over the air.
            self._bad("oscore: unknown kid", f"a protected frame heard on SF{rx.sf} names a "
                                             "kid no registered node has")
            return
        ctx = found
        node_id = ctx.node_id
        key: CacheKey = (bytes(ctx.recipient_id), request.mid, bytes(rx.frame))
        if self._answered_before(key, rx, bridge_ms):
            return
        self._inflight.add(key)
        try:
            echo: bytes | None = None
            try:
                inner, request_id = ctx.unprotect(request)
            except oscore.ReplayErrorWithEcho as e:
                # The gateway lost this node's replay window (a crash): the
                # node proves the next request fresh with this Echo value.
                self.counts["oscore: Echo asked"] += 1
                inner, request_id, echo = None, e.request_id, e.echo
            except oscore.ReplayError:
                self._bad("oscore: replay", f"a protected frame from {node_id!r} is a replay "
                                            "(its sequence number was used)")
                return
            except (oscore.ProtectionInvalid, oscore.DecodeError, ValueError,
                    IndexError) as e:
                self._bad("oscore: not verified", f"a protected frame with the kid of "
                                                  f"{node_id!r} does not verify (another key, "
                                                  "or changed on the way: "
                                                  f"{type(e).__name__})")
                return
            fresh = inner is not None
            if fresh:
                history = self._heard(node_id, rx)  # verified and new: its own uplink
            else:  # perhaps a recording: it does not count for the data rate
                history = self._snr.get(node_id) or deque([snr_db10(rx.snr_q)])
            code = Code.UNAUTHORIZED
            if inner is not None:
                inner.remote = OSCOREAddress(ctx, LoraRemote(node_id))
                response = await self._render(inner, node_id)
                if self._unwanted(inner, response):
                    self._keep(key, None, rx, bridge_ms)
                    return
                code = response.code or Code.CHANGED
            plain = aiocoap.Message(code=code, echo=echo,
                                    payload=self._feedback(list(history), rx.sf, node_id, fresh))
            outer, _ = ctx.context_for_response().protect(plain, request_id)
        finally:
            self._inflight.discard(key)
        # The compact form on the air: the OSCORE option (empty, the request's
        # nonce reused; with a Partial IV of the gateway's own for the Echo
        # challenge) and the ciphertext, nothing else.
        msg = self._compact(request, int(outer.code),
                            [(OPT_OSCORE, bytes(outer.opt.oscore or b""))], bytes(outer.payload))
        self._keep(key, bytes(coap.encode(msg)), rx, bridge_ms)

    def _heard(self, node_id: str, rx: Rx) -> deque[int]:
        """A node's own uplink: its SNR for the data rate, and the SF it
        listens at until told otherwise."""
        history = self._snr.setdefault(node_id, deque(maxlen=HISTORY))
        history.append(snr_db10(rx.snr_q))
        self.node_sf[node_id] = rx.sf
        if self.heard_signal is not None:
            self.heard_signal(node_id, rx.rssi_dbm, rx.snr_q, rx.sf)
        return history

    def _answered_before(self, key: CacheKey, rx: Rx, bridge_ms: int) -> bool:
        """A retransmission: the same answer again (never rendered, nor
        unprotected, twice: that would store twice, or be a replay)."""
        now = self._clock()
        self._expire(now)
        if key in self._inflight:
            self.counts["duplicate in flight"] += 1
            return True
        cached = self._cache.get(key)
        if cached is None:
            return False
        self.counts["duplicate"] += 1
        if cached[0] is not None:
            self._answer(cached[0], rx, bridge_ms)
        return True

    def _keep(self, key: CacheKey, frame: bytes | None, rx: Rx, bridge_ms: int) -> None:
        self._cache[key] = (frame, self._clock() + EXCHANGE_LIFETIME_S)
        if frame is not None:
            self._answer(frame, rx, bridge_ms)

    async def _render(self, request: aiocoap.Message, node_id: str) -> aiocoap.Message:
        try:
            response: aiocoap.Message = await self.site.render(request)
        except coap_error.RenderableError as e:
            response = e.to_message()
        except Exception as e:  # a resource's bug must not stop the radio
            log.error("handling a LoRa request from %r failed: %s: %s", node_id,
                      type(e).__name__, e)
            response = aiocoap.Message(code=Code.INTERNAL_SERVER_ERROR)
        return response

    def _unwanted(self, request: aiocoap.Message, response: aiocoap.Message) -> bool:
        """True when the request's No-Response option declines this answer;
        counts the errors answered."""
        code = int(response.code) if response.code is not None else int(Code.CHANGED)
        code_class = code >> 5
        no_response = request.opt.no_response
        if no_response is not None and no_response & _NO_RESPONSE_BIT.get(code_class, 0):
            self.counts["not answered (No-Response)"] += 1
            return True
        if code_class >= 4:
            self.counts[f"answered {coap.code_str(code)}"] += 1
        return False

    def _feedback(self, history: list[int], sf: int, node_id: str, own: bool = True) -> bytes:
        """The link feedback for a node heard at sf; own: the uplink is the
        node's own (not a frame that anyone could have sent in its name), so
        the SF it is told is the one it listens at from now on."""
        new_sf = adr_sf(history, sf, self.sfs)
        if own and node_id in self.nodes:
            self.node_sf[node_id] = new_sf
        snr_db = round(history[-1] / 10) if history else 0
        return bytes(encode_feedback(snr_db, new_sf, node_tag(node_id), int(self._unix())))

    def _compact(self, request: aiocoap.Message, code: int,
                 options: list[tuple[int, bytes]], payload: bytes) -> coap.Message:
        # The frame on the air is built with the node's own codec, not with
        # aiocoap: aiocoap parsed the request and its resources answered it,
        # but a response over LoRa carries no options (but OSCORE's) and no
        # diagnostic text, only the feedback, and its bytes are the ones the
        # node's parser reads.
        if request.mtype == Type.CON:
            return coap.Message(coap.ACK, code, request.mid, bytes(request.token), options,
                                payload)
        self._mid = (self._mid + 1) & 0xFFFF
        return coap.Message(coap.NON, code, self._mid, bytes(request.token), options, payload)

    # --- the gateway's requests to a pole ----------------------------------
    def on_air(self, node_id: str) -> bool:
        """True when the node was heard over LoRa (its SF is known)."""
        return node_id in self.node_sf

    def push_frame(self, ctx: NodeContext, path: str, payload: bytes
                   ) -> tuple[int, bytes, object]:
        """(message id, frame, OSCORE request identifiers) of a CON POST of
        payload to path on the node, protected with its context: on the air
        the header, the OSCORE option (the gateway's Partial IV; its Sender
        ID is empty) and the ciphertext of the code, the Uri-Path and the
        payload. Uses one of the context's sequence numbers."""
        inner = aiocoap.Message(code=Code.POST, uri_path=(path,), payload=payload)
        inner.direction = aiocoap.message.Direction.OUTGOING
        outer, request_id = ctx.protect(inner)
        self._mid = (self._mid + 1) & 0xFFFF
        while self._mid in self._pushes:
            self._mid = (self._mid + 1) & 0xFFFF
        msg = coap.Message(coap.CON, coap.POST, self._mid, b"",
                           [(OPT_OSCORE, bytes(outer.opt.oscore or b""))], bytes(outer.payload))
        return self._mid, bytes(coap.encode(msg)), request_id

    async def push(self, node_id: str, ctx: NodeContext, path: str, payload: bytes) -> str:
        """A protected CON request to a pole heard over LoRa, retransmitted
        until its ACK verifies: 'acknowledged', 'refused: <code>' or 'no
        answer'."""
        sf = self.node_sf.get(node_id)
        if sf is None:
            return "no answer (not heard over LoRa)"
        mid, frame, request_id = self.push_frame(ctx, path, payload)
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pushes[mid] = (node_id, ctx, request_id, outcome)
        self.counts["pushes"] += 1
        try:
            for attempt in range(PUSH_ATTEMPTS):
                sf = self.node_sf.get(node_id, sf)  # it may have been told another
                down_sf = radio_plan.downlink_sf(sf)
                if attempt:
                    self.counts["push retransmitted"] += 1
                if not await self.downlink.push(frame, down_sf, PUSH_QUEUE_MS):
                    return "no answer (no downlink airtime)"
                # On the air now: its airtime, the pole's turnaround, its ACK's.
                timeout_ms = (airtime_us(len(frame), down_sf) + airtime_us(PUSH_ACK_LEN, sf)
                              ) // 1000 + ACK_TIMEOUT_MIN_MS
                try:
                    result = await asyncio.wait_for(asyncio.shield(outcome),
                                                    timeout_ms * (1 << attempt) / 1000)
                except TimeoutError:
                    continue
                return result
            self.counts["push unanswered"] += 1
            return "no answer"
        finally:
            self._pushes.pop(mid, None)

    def _push_answer(self, msg: aiocoap.Message, rx: Rx) -> None:
        """An ACK with the message id of a push: taken when it verifies."""
        node_id, ctx, request_id, outcome = self._pushes[msg.mid]
        try:
            inner, _ = ctx.unprotect(msg, request_id)
        except Exception as e:  # aiocoap raises several kinds for what does not verify
            self._bad("push: answer not verified", f"an answer to a push to {node_id!r} "
                                                   f"does not verify ({type(e).__name__})")
            return
        self._heard(node_id, rx)
        if outcome.done():
            self.counts["push: duplicate answer"] += 1
            return
        code = inner.code
        if code.is_successful():
            self.counts["push acknowledged"] += 1
            outcome.set_result("acknowledged")
        else:
            self.counts[f"push refused {code.dotted}"] += 1
            text = inner.payload.decode(errors="replace")
            outcome.set_result(f"refused: {code.dotted} {text}".rstrip())

    def command(self, node_ids: Iterable[str], frame: bytes) -> list[str]:
        """Put a request for several nodes on the air: one frame per downlink
        SF among them, since a group command names all its targets. Returns
        the nodes it goes to (those heard over LoRa)."""
        on_air = [n for n in node_ids if n in self.node_sf]
        for sf in sorted({radio_plan.downlink_sf(self.node_sf[n]) for n in on_air}):
            self.downlink.command(frame, sf)
        return on_air

    def _answer(self, frame: bytes, rx: Rx, bridge_ms: int) -> None:
        # A NON's error answer is worth as little once the node has gone back
        # to sleep as a late ACK: the same deadline.
        self.downlink.ack(frame, radio_plan.downlink_sf(rx.sf),
                          ack_deadline_ms(bridge_ms, len(rx.frame), rx.sf, len(frame)))

    def _expire(self, now: float) -> None:
        cache = self._cache
        while cache:
            key, (_, expiry) = next(iter(cache.items()))
            if expiry > now and len(cache) <= CACHE_MAX:
                break
            cache.popitem(last=False)

    def _bad(self, kind: str, line: str) -> None:
        self.counts[kind] += 1
        self._warn(kind, line)

    def _warn(self, kind: str, line: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("%s; counted, further ones are not logged", line)
