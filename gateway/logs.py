"""The gateway's log, bounded whatever the network sends it: a line per
reason at most a few times a minute (the rest counted, "N more like it"),
aiocoap's per-datagram chatter only from warnings up and without
tracebacks, and a file rotated by size when the gateway logs to one."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

# Per reason (a logger and its message's wording), this many lines a minute;
# across all reasons, GLOBAL_PER_WINDOW. What is held back is counted and
# told with the next line of that reason.
WINDOW_S = 60.0
PER_REASON = 10
GLOBAL_PER_WINDOW = 120
# Reasons remembered at once (least recently seen forgotten first).
REASONS_KEPT = 512

# aiocoap's loggers: every garbage datagram is a line at INFO or DEBUG.
AIOCOAP_LOGGERS = ("coap", "coap-server", "coap.transport", "coap.blockwise")

_DIGITS = re.compile(r"\d+")


class LRU(OrderedDict[K, V]):
    """A dict that keeps at most `size` entries, forgetting the least
    recently set or touched: for anything kept per sender or per node id."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def touch(self, key: K, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def flush_summary(held: list[tuple[int, tuple[str, int, str]]]) -> str:
    held.sort(reverse=True)
    parts = [f"{n} {name}: {text.strip()!r}" for n, (name, _, text) in held[:5]]
    more = f" and {len(held) - 5} more reasons" if len(held) > 5 else ""
    return (f"{sum(n for n, _ in held)} log lines held back by the rate limit: "
            f"{'; '.join(parts)}{more}")


def _reason(record: logging.LogRecord) -> tuple[str, int, str]:
    # The message's wording without its numbers: "%s"-style messages share
    # their template, pre-formatted ones (aiocoap's) still group together.
    return record.name, record.levelno, _DIGITS.sub("#", str(record.msg))[:60]


class RateLimit(logging.Filter):
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 handler: logging.Handler | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.handler = handler  # where the summary of what was held back goes
        # reason -> [window start, lines in window, held back]
        self.reasons: LRU[tuple[str, int, str], list[float]] = LRU(REASONS_KEPT)
        self.window_start = 0.0
        self.window_lines = 0
        self.held_total = 0

    def flush(self) -> None:
        """One line for everything held back so far, then count afresh."""
        held = [(int(st[2]), key) for key, st in self.reasons.items() if st[2]]
        if not held or self.handler is None:
            return
        for _, key in held:
            self.reasons[key][2] = 0
        record = logging.LogRecord("gateway.log", logging.WARNING, __file__, 0,
                                   flush_summary(held), None, None)
        self.handler.emit(record)

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        if now - self.window_start >= WINDOW_S:
            self.flush()
            self.window_start, self.window_lines = now, 0
        key = _reason(record)
        state = self.reasons.get(key)
        if state is None or now - state[0] >= WINDOW_S:
            held = int(state[2]) if state is not None else 0
            state = [now, 0, 0]
            if held:
                record.msg = f"{record.msg} ({held} more like it before this)"
        self.reasons.touch(key, state)
        if state[1] >= PER_REASON or self.window_lines >= GLOBAL_PER_WINDOW:
            state[2] += 1
            self.held_total += 1
            return False
        state[1] += 1
        self.window_lines += 1
        if record.exc_info and record.name.startswith("coap"):
            # What a datagram can make aiocoap raise: one line, no traceback.
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class _OwnerOnlyFile(logging.handlers.RotatingFileHandler):
    """A rotated log file, each one created readable by its owner only."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def flush() -> None:
    """Log what the rate limit has held back (at shutdown)."""
    for handler in logging.getLogger().handlers:
        for f in handler.filters:
            if isinstance(f, RateLimit):
                f.flush()


def setup(log_file: Path | None = None, max_bytes: int = 10_000_000,
          backups: int = 5, level: int = logging.INFO) -> logging.Handler:
    """The gateway's logging: to standard error, or to log_file rotated at
    max_bytes keeping `backups` old files (owner-only). Returns the handler."""
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = _OwnerOnlyFile(log_file, maxBytes=max_bytes, backupCount=backups,
                                 encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    handler.addFilter(RateLimit(handler=handler))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    for name in AIOCOAP_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
