"""How the field tools tell the technician what they are doing: one line per
result, a bar for anything slow. The commands show them with click; tests can
record them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

Update = Callable[[int], None]  # the amount done so far, of the bar's total


class Reporter:
    """Says nothing: for callers that only want the result."""

    def say(self, line: str) -> None:
        pass

    @contextmanager
    def bar(self, label: str, total: int) -> Iterator[Update]:
        yield lambda done: None


class ClickReporter(Reporter):
    def say(self, line: str) -> None:
        click.echo(line)

    @contextmanager
    def bar(self, label: str, total: int) -> Iterator[Update]:
        with click.progressbar(length=max(1, total), label=label, show_pos=False,
                               show_percent=True, show_eta=True) as bar:
            def update(done: int) -> None:
                step = min(total, done) - bar.pos
                if step > 0:
                    bar.update(step)
            yield update
            update(total)


class RecordingReporter(Reporter):
    """Keeps every line said, and each bar's label and last amount."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.bars: list[tuple[str, int, int]] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    @contextmanager
    def bar(self, label: str, total: int) -> Iterator[Update]:
        self.bars.append((label, total, 0))
        i = len(self.bars) - 1

        def update(done: int) -> None:
            self.bars[i] = (label, total, done)
        yield update
