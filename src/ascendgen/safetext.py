"""Small text helpers shared by the output layer and the renderer."""

from __future__ import annotations

import unicodedata

_LINE_BREAKING = ("Cc", "Zl", "Zp")  # control characters, line and paragraph separators


def has_control_chars(text: str) -> bool:
    return any(unicodedata.category(char) in _LINE_BREAKING for char in text)


def one_line(text: str) -> str:
    """Control characters and line breaks shown as escapes, so a message or comment stays one line."""
    return "".join(repr(char)[1:-1] if unicodedata.category(char) in _LINE_BREAKING else char for char in text)
