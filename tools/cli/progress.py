"""Progress of the slow commands (planning, simulations, imports, replays),
on standard error only: standard output stays the result (tables, --json).

Shown on a terminal once the work has taken two seconds (a quick command
prints nothing extra), or, with `kvarter --progress ...`, at once and as
plain lines, for a log or a program that reads standard error. Never shown
with `kvarter --no-progress ...`."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click

TERMINAL_DELAY_S = 2.0  # a terminal sees progress only for work that takes longer
TICK_S = 1.0
LINE_EVERY_S = 10.0  # --progress without a terminal: a line this often, not a ticker


def mode() -> bool | None:
    """True: always shown (--progress); False: never (--no-progress); None:
    on a terminal, after two seconds."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    obj = root.obj if root is not None else None
    return obj.get("progress") if isinstance(obj, dict) else None


class Progress:
    """What the work is doing, updated by the work (`update`); a thread
    redraws the line with the time taken so far."""

    def __init__(self, label: str, forced: bool | None) -> None:
        self.label = label
        self.detail = ""
        self.started = time.monotonic()
        self.terminal = sys.stderr.isatty()
        self.enabled = forced is True or (forced is None and self.terminal)
        self.delay = 0.0 if forced else TERMINAL_DELAY_S
        self._stop = threading.Event()
        self._shown = False
        self._last_line = -LINE_EVERY_S
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def update(self, detail: str) -> None:
        self.detail = detail

    def echo(self, text: str) -> None:
        """A result on standard output while the work goes on: the progress
        line is wiped first, so that the two never share a line on a terminal."""
        with self._lock:
            if self.terminal and self._shown:
                click.echo("\r\x1b[K", err=True, nl=False)
                self._shown = False
            click.echo(text)

    def _text(self) -> str:
        took = time.monotonic() - self.started
        return f"{self.label}{': ' + self.detail if self.detail else ''} ({took:.0f} s)"

    def _draw(self, final: bool = False) -> None:
        with self._lock:
            took = time.monotonic() - self.started
            if took < self.delay and not final:
                return
            if self.terminal:
                click.echo(f"\r\x1b[K{self._text()}", err=True, nl=False)
            elif final or took - self._last_line >= LINE_EVERY_S:
                self._last_line = took
                click.echo(self._text(), err=True)
            self._shown = True

    def _run(self) -> None:
        while not self._stop.wait(TICK_S if self.terminal else 0.5):
            self._draw()

    def start(self) -> None:
        if not self.enabled:
            return
        if self.delay == 0:
            self._draw()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()

    def stop(self, done: bool) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        if self.terminal and self._shown:
            # The ticker's line is wiped: what the command prints next stands alone.
            click.echo("\r\x1b[K", err=True, nl=False)
        elif self._shown and done:
            self.detail = "done"
            self._draw(final=True)


@contextmanager
def progress(label: str) -> Iterator[Progress]:
    p = Progress(label, mode())
    p.start()
    done = False
    try:
        yield p
        done = True
    finally:
        p.stop(done)
