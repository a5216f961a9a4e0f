"""Time ranges for commands: relative (30m, 24h, 7d) or RFC 3339, checked and explained when wrong."""

from __future__ import annotations

from datetime import datetime

from provisioning.config import parse_duration
from provisioning.errors import TracklogError


class TimeRangeError(TracklogError, ValueError):
    """A time or range the user gave cannot be used; the message says why."""


def parse_time(text: str, now_ns: int) -> int:
    """Nanoseconds for ``now``, a duration ago (``2h``), RFC 3339, or epoch seconds."""
    text = text.strip()
    if text == "now":
        return now_ns
    try:
        return now_ns - parse_duration(text) * 1_000_000_000
    except ValueError:
        pass
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9)
    except ValueError:
        pass
    try:
        return int(float(text) * 1e9)
    except ValueError:
        raise TimeRangeError(f"{text!r} is not a time: use now, a duration ago like 30m or 7d, RFC 3339 "
                             "(2026-11-26T10:00:00Z) or epoch seconds") from None


def parse_range(since: str | None, start: str | None, end: str | None, now_ns: int) -> tuple[int, int]:
    """(start, end) in ns: ``--from/--to`` when given, else the last ``since``; start must be before end."""
    end_ns = parse_time(end, now_ns) if end else now_ns
    start_ns = parse_time(start, now_ns) if start else parse_time(since or "1h", now_ns)
    if start_ns >= end_ns:
        raise TimeRangeError("the time range is empty: --from must be before --to")
    return start_ns, end_ns
