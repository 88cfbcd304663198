"""The gateway's CoAP site behind OSCORE: aiocoap's OscoreSiteWrapper, with
every OSCORE option checked before aiocoap's own parser sees it, and a
short path for what nodes send most.

A forged datagram reaches that parser before any key is involved. For some
malformed options (a kid context cut short, the group flag with a node's
kid) aiocoap fails with an IndexError or an AttributeError rather than its
decoding error: each such datagram would be a 5.00 and a line in the log.
Here it is what it is, a bad option: a confirmable one gets 4.02, a
non-confirmable one nothing, and both are counted.

The short path: a node's protected POST (a report, a presence event, a
status) that verifies with its context and is fresh in its replay window is
opened with the context's own keys (GatewaySideContext.open_request), given
to the resources as aiocoap's wrapper gives it (marked with the context), and
its answer sealed with the request's nonce (seal_response), all within this
one call. aiocoap's wrapper does the same through a second task, a queue, a
deep copy of the answer and a text name for the task made from the request
-- about a third of the gateway's CPU time per presence event. Everything
else, and everything that does not verify or is not fresh (replays, the Echo
challenge after a crash, forged tags, technicians' requests, unknown kids),
goes through aiocoap's wrapper unchanged, so it is refused or answered exactly
as before."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import aiocoap
from aiocoap import error
from aiocoap.numbers.codes import Code
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper
from aiocoap.transports.oscore import OSCOREAddress

from firmware.oscore.message import OscoreError, parse_option
from gateway.security.contexts import NodeContext, NodeCredentials, Opened

log = logging.getLogger("gateway.security")


class CheckedOscoreSite(OscoreSiteWrapper):  # type: ignore[misc]
    def __init__(self, inner_site: Any, credentials: NodeCredentials) -> None:
        super().__init__(inner_site, credentials)
        self.credentials = credentials
        self.counts: Counter[str] = Counter()

    async def render_to_pipe(self, pipe: Any) -> None:
        request = pipe.request
        value = request.opt.oscore
        if value is not None:
            try:
                piv, kid, kid_context = parse_option(value)
            except OscoreError as e:
                self.counts["malformed OSCORE option"] += 1
                if request.mtype == aiocoap.CON:
                    raise error.BadOption(str(e)) from None
                return
            # A node's request: no ID Context, a kid, nothing outside that
            # would change how it is read (an outer path is EDHOC's, an
            # outer Observe an observation).
            if kid is not None and kid_context is None and request.code == Code.POST \
                    and request.opt.observe is None and not request.opt.uri_path:
                ctx = self.credentials.for_kid(kid)
                if ctx is not None:
                    opened = ctx.open_request(piv, request.payload)
                    if opened is not None:
                        await self._answer(pipe, ctx, opened)
                        return
        await super().render_to_pipe(pipe)

    async def _answer(self, pipe: Any, ctx: NodeContext, opened: Opened) -> None:
        """Render a verified request with the inner site and send back its
        answer, protected."""
        inner = opened.request
        inner.remote = OSCOREAddress(ctx, pipe.request.remote)
        answer = _OneAnswer(inner)
        try:
            await self._inner_site.render_to_pipe(answer)
            response = answer.response
        except error.RenderableError as e:
            # An error a resource raises on purpose (say 4.04): answered as
            # it asks, protected.
            response = e.to_message()
        except Exception as e:  # noqa: BLE001 - a protected 5.00, one line, as aiocoap does
            self.counts["render error"] += 1
            log.error("rendering a protected request from %r failed: %s: %s", ctx,
                      type(e).__name__, e)
            response = aiocoap.Message(code=Code.INTERNAL_SERVER_ERROR)
        if response is None:
            return
        self.counts["short path"] += 1
        if unwanted(response):
            # The node asked for no answer of this class (No-Response, RFC
            # 7967, which OSCORE carries inside): nothing is protected or
            # sent. aiocoap's message layer drops this stand-in, or sends
            # the empty ACK a confirmable request still needs. (aiocoap's
            # wrapper protects and sends the answer whatever the node asked:
            # it sees the option only inside.)
            pipe.add_response(aiocoap.Message(code=Code.CHANGED, no_response=_NO_2XX),
                              is_last=True)
            return
        pipe.add_response(ctx.seal_response(response, opened), is_last=True)


_NO_2XX = 0x02  # No-Response: not interested in 2.xx


def unwanted(response: aiocoap.Message) -> bool:
    """Whether the request's No-Response (copied into the answer by
    aiocoap's resources) says the requester does not want an answer of this
    one's class."""
    suppress = response.opt.no_response or 0
    return bool(suppress & (1 << (response.code.class_ - 1)))


class _OneAnswer:
    """What a resource renders into: the gateway's resources give one answer
    to a request (none of them is observable)."""

    def __init__(self, request: aiocoap.Message) -> None:
        self.request = request
        self.response: aiocoap.Message | None = None

    def add_response(self, response: aiocoap.Message, is_last: bool = False) -> None:
        if self.response is None:
            self.response = response

    def add_exception(self, exception: BaseException) -> None:
        raise exception

    def on_interest_end(self, callback: Any) -> None:
        pass  # the answer is awaited in place: nothing to cancel separately
