"""Times and time ranges the user gives (--since / --from / --to, --after / --before), read one way for every command.

A time is ``now``, a time ago (``30m``, ``2h``, ``7d``, ``1h30m``, ``now-1h``), RFC 3339 (UTC when it has no offset),
a date (UTC midnight) or a Unix epoch number (seconds, milliseconds or nanoseconds, told apart by length).
Whatever cannot be used raises TimeRangeError, whose message says why and what is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from provisioning.errors import TracklogError

NS = 1_000_000_000
_DAY_NS = 86_400 * NS
_UNIT_NS = {"ms": 10**6, "s": NS, "m": 60 * NS, "h": 3600 * NS, "d": _DAY_NS, "w": 7 * _DAY_NS, "y": 365 * _DAY_NS}
_TERM = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_RANGE_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w))+")  # 30m, 7d, 1h30m, 500ms (any case)
_RETENTION = re.compile(r"\d+(?:s|m|h|d|w|y)")  # one term, as Loki and the dashboards read tracklog.yaml
# A bare number of at least 10 digits is an epoch: seconds up to 11 digits (optionally with a fraction), milliseconds
# up to 14, nanoseconds beyond. Shorter numbers ("30": minutes? seconds?) are refused rather than guessed.
_EPOCH = re.compile(r"(\d{10,})(?:\.(\d{1,9}))?")
_UNIX = datetime(1970, 1, 1, tzinfo=UTC)
FORMS = ("RFC3339 (2026-11-26T10:00:00Z), a date (2026-11-26), epoch seconds (1795000000), 'now', "
         "or a time ago like 30m, 2h, 7d, 1h30m")


class TimeRangeError(TracklogError, ValueError):
    """A time or duration could not be read, or the range it makes is empty or reversed; the message says why."""


@dataclass(frozen=True)
class TimeRange:
    """Half-open [start_ns, end_ns) in Unix nanoseconds."""

    start_ns: int
    end_ns: int

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / NS


def parse_duration(text: str, *, retention: bool = False) -> int:
    """Return the nanoseconds in a duration.

    A range duration is one or more terms of ms, s, m, h, d or w (``30m``, ``7d``, ``1h30m``, any case), never zero.
    With ``retention``, the form of tracklog.yaml's retentions, which Loki and the dashboards read too: one number
    and one unit of s, m, h, d, w or y (``30d``, ``1y``; a year is 365 days), as written.

    Raises:
        TimeRangeError: the text is not such a duration, or (for a range) is zero.
    """
    value = text.strip() if retention else text.strip().lower()
    if retention and not _RETENTION.fullmatch(value):
        raise TimeRangeError(f"{text!r} is not a duration like 30s, 5m, 24h, 30d, 4w or 1y")
    if not retention and not _RANGE_DURATION.fullmatch(value):
        raise TimeRangeError(f"{text!r} is not a duration like 30m, 2h, 7d or 1h30m")
    total = sum(int(n) * _UNIT_NS[unit] for n, unit in _TERM.findall(value))
    if total <= 0 and not retention:
        raise TimeRangeError(f"{text!r} is a zero duration")
    return total


def parse_time(text: str, now_ns: int, flag: str = "time", *, whole_seconds: bool = False) -> int:
    """Return the time ``text`` names, in Unix nanoseconds (see the module for the forms); ``flag`` names it in errors.

    Fractions of a second are kept exactly, unless ``whole_seconds`` floors the result to the second.

    Raises:
        TimeRangeError: naming the flag, the text and the forms accepted.
    """
    value = text.strip()
    lowered = value.lower()
    relative = lowered[4:] if lowered.startswith("now-") else lowered
    epoch = _EPOCH.fullmatch(value)
    if lowered == "now":
        ns = now_ns
    elif _RANGE_DURATION.fullmatch(relative):
        ns = now_ns - parse_duration(relative)
    elif epoch and (len(epoch[1]) <= 11 or not epoch[2]):
        whole, fraction = epoch[1], epoch[2] or ""
        unit = NS if len(whole) <= 11 else 10**6 if len(whole) <= 14 else 1
        ns = int(whole) * unit + int(fraction.ljust(9, "0") or 0)
    else:
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            raise TimeRangeError(f"{flag} {text!r} is not a time; use {FORMS}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - _UNIX
        ns = (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000
    return ns - ns % NS if whole_seconds else ns


def resolve(since: str | None, start: str | None, end: str | None, now_ns: int, default_since: str = "1h", *,
            start_flag: str = "--from", end_flag: str = "--to", whole_seconds: bool = False) -> TimeRange:
    """Return the checked range: ``start`` (or ``since``, else ``default_since``, back from the end) up to ``end``
    (or now).

    ``start_flag``/``end_flag`` name the flags in messages (the archive says --after/--before); ``whole_seconds``
    floors both ends to the second.

    Raises:
        TimeRangeError: a time or duration is unreadable, both since and start are given, or start is not before end.
    """
    if since and start:
        raise TimeRangeError(f"give --since or {start_flag}, not both")
    end_ns = parse_time(end or "now", now_ns, end_flag, whole_seconds=whole_seconds)
    if start:
        start_ns = parse_time(start, now_ns, start_flag, whole_seconds=whole_seconds)
    else:
        try:
            start_ns = end_ns - parse_duration(since or default_since)
        except TimeRangeError as exc:
            raise TimeRangeError(f"--since: {exc}") from None
        if whole_seconds:
            start_ns -= start_ns % NS
    if start_ns >= end_ns:
        raise TimeRangeError(f"the time range is empty or reversed: from {iso(start_ns)} is not before "
                             f"to {iso(end_ns)}")
    return TimeRange(start_ns, end_ns)


def format_ns(ts_ns: int, digits: int | None = 3) -> str:
    """RFC 3339 in UTC with ``digits`` of fractional seconds (``2026-11-26T23:14:24.551Z``); ``None``: all nine
    digits, and only when they are not zero."""
    seconds, rest = divmod(ts_ns, NS)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits is None:
        digits = 9 if rest else 0
    if digits:
        stamp += "." + f"{rest:09d}"[:digits]
    return stamp + "Z"


def iso(ts_ns: int) -> str:
    """The exact RFC 3339 form of a time, as archives and manifests record it: ``format_ns(ts_ns, None)``."""
    return format_ns(ts_ns, None)
