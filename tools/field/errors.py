"""The one kind of failure the field tools raise."""

from __future__ import annotations


class FieldError(Exception):
    """Something the technician must act on. str() is one line: what is wrong
    and what to do about it; `short` a few words for a table cell."""

    def __init__(self, message: str, short: str = "") -> None:
        super().__init__(message)
        self.short = short or message
