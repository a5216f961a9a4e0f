"""Shortening with a marker: every value tracklog cuts says so, and by how much."""

from __future__ import annotations

TRUNCATION_MARKER = "…[truncated {} bytes]"

MESSAGE_MAX_CHARS = 32 * 1024  # a record's message
VALUE_MAX_CHARS = 16 * 1024  # each string field from extra= (and error.message)
STACK_MAX_CHARS = 8000  # error.stack_trace keeps its end, where the exception was raised


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (plus the marker naming the UTF-8 bytes cut), or unchanged."""
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATION_MARKER.format(len(text[limit:].encode("utf-8", "replace")))


def shorten_head(text: str, limit: int) -> str:
    """Like :func:`shorten`, keeping the end of ``text`` (a stack trace's last frames) with the marker in front."""
    if len(text) <= limit:
        return text
    return TRUNCATION_MARKER.format(len(text[:-limit].encode("utf-8", "replace"))) + text[-limit:]
