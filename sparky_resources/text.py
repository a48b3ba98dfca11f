"""Text helpers shared by the clients: errors and logs say what happened in one line."""

from __future__ import annotations


def one_line(text: object) -> str:
    """`text` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(str(text).split())
