"""The gateway's CoAP site behind OSCORE: aiocoap's OscoreSiteWrapper, with
every OSCORE option checked before aiocoap's own parser sees it.

A forged datagram reaches that parser before any key is involved. For some
malformed options (a kid context cut short, the group flag with a node's
kid) aiocoap fails with an IndexError or an AttributeError rather than its
decoding error: each such datagram would be a 5.00 and a line in the log.
Here it is what it is, a bad option: a confirmable one gets 4.02, a
non-confirmable one nothing, and both are counted."""

from __future__ import annotations

from collections import Counter
from typing import Any

import aiocoap
from aiocoap import error
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper

from gateway.security.contexts import option_error


class CheckedOscoreSite(OscoreSiteWrapper):  # type: ignore[misc]
    def __init__(self, inner_site: Any, credentials: Any) -> None:
        super().__init__(inner_site, credentials)
        self.counts: Counter[str] = Counter()

    async def render_to_pipe(self, pipe: Any) -> None:
        request = pipe.request
        problem = option_error(request.opt.oscore)
        if problem is not None:
            self.counts["malformed OSCORE option"] += 1
            if request.mtype == aiocoap.CON:
                raise error.BadOption(problem)
            return
        await super().render_to_pipe(pipe)
