"""Fields bound to the current request or task (request id, trace id, user), added to every record logged in it."""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import types
from collections.abc import Iterator, Mapping
from typing import Any

_BOUND: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "tracklog_bound", default=types.MappingProxyType({})
)
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every record logged inside the block (in this thread or task)."""
    token = _BOUND.set({**_BOUND.get(), **fields})
    try:
        yield
    finally:
        _BOUND.reset(token)


def current() -> Mapping[str, Any]:
    return _BOUND.get()


def parse_traceparent(header: str | None) -> tuple[str, str] | None:
    """(trace_id, parent span_id) from a W3C traceparent header, or None."""
    match = _TRACEPARENT.match((header or "").strip().lower())
    if not match or match.group(1) == "0" * 32:
        return None
    return match.group(1), match.group(2)


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()
