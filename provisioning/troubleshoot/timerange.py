"""Turn --since / --from / --to into one checked [start, end) range in nanoseconds, or say plainly what is wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from provisioning.troubleshoot.errors import TimeRangeError

NS = 1_000_000_000
_UNIT_NS = {"ms": 10**6, "s": NS, "m": 60 * NS, "h": 3600 * NS, "d": 86400 * NS, "w": 7 * 86400 * NS}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w))+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FORMS = "RFC3339 (2026-11-26T10:00:00Z), a date (2026-11-26), 'now', or a time ago like 30m, 2h, 7d, 1h30m"


@dataclass(frozen=True)
class TimeRange:
    start_ns: int
    end_ns: int

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / NS


def parse_duration(text: str) -> int:
    """Return the nanoseconds in a duration such as ``30m``, ``2h``, ``7d`` or ``1h30m``.

    Raises:
        TimeRangeError: the text is not such a duration, or is zero.
    """
    value = text.strip().lower()
    if not _DURATION.fullmatch(value):
        raise TimeRangeError(f"{text!r} is not a duration like 30m, 2h, 7d or 1h30m")
    total = sum(int(n) * _UNIT_NS[unit] for n, unit in _PART.findall(value))
    if total <= 0:
        raise TimeRangeError(f"{text!r} is a zero duration")
    return total


def parse_time(text: str, now_ns: int, flag: str = "time") -> int:
    """Return the time ``text`` names, in Unix nanoseconds: RFC3339, a date, ``now``, or a relative ``2h`` (ago).

    RFC3339 times without an offset are read as UTC.

    Raises:
        TimeRangeError: naming the flag, the text and the forms accepted.
    """
    value = text.strip()
    lowered = value.lower()
    if lowered == "now":
        return now_ns
    relative = lowered[4:] if lowered.startswith("now-") else lowered
    if _DURATION.fullmatch(relative):
        return now_ns - parse_duration(relative)
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise TimeRangeError(f"{flag} {text!r} is not a time; use {FORMS}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


def resolve(since: str | None, start: str | None, end: str | None, now_ns: int, default_since: str) -> TimeRange:
    """Return the checked range: ``--from``/``--to`` if given, else ``--since`` (or the default) back from ``--to``.

    Raises:
        TimeRangeError: a time is unreadable, both --since and --from are given, or start is not before end.
    """
    if since and start:
        raise TimeRangeError("give --since or --from, not both")
    end_ns = parse_time(end, now_ns, "--to") if end else now_ns
    if start:
        start_ns = parse_time(start, now_ns, "--from")
    else:
        try:
            start_ns = end_ns - parse_duration(since or default_since)
        except TimeRangeError as exc:
            raise TimeRangeError(f"--since: {exc}") from None
    if start_ns >= end_ns:
        raise TimeRangeError(f"the time range is empty or reversed: from {format_ns(start_ns)} is not before "
                             f"to {format_ns(end_ns)}")
    return TimeRange(start_ns, end_ns)


def format_ns(ts_ns: int, digits: int = 3) -> str:
    """RFC3339 in UTC with ``digits`` of fractional seconds: ``2026-11-26T23:14:24.551Z``."""
    seconds, rest = divmod(ts_ns, NS)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        stamp += "." + f"{rest:09d}"[:digits]
    return stamp + "Z"
