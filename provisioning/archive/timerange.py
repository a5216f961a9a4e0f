"""Turn --after/--before/--since into a time range and split it into UTC days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from provisioning.config import parse_duration

NS = 1_000_000_000
DAY_NS = 86_400 * NS
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class TimeRange:
    """Half-open [start_ns, end_ns), both on whole seconds."""

    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class DaySlice:
    """The part of a range that falls on one UTC day: [start_ns, end_ns)."""

    day: date
    start_ns: int
    end_ns: int

    @property
    def complete(self) -> bool:
        """True when the slice covers the whole UTC day, so its archive object never changes."""
        return self.start_ns == day_start_ns(self.day) and self.end_ns == self.start_ns + DAY_NS


def day_start_ns(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * NS


def day_of(ts_ns: int) -> date:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=ts_ns // NS)).date()


def iso(ts_ns: int) -> str:
    """RFC 3339 in UTC with nanoseconds only when they are not zero."""
    seconds, frac = divmod(ts_ns, NS)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{frac:09d}Z" if frac else f"{text}Z"


def parse_time(text: str, now_ns: int) -> int:
    """Return ``text`` as ns since the epoch, floored to the second.

    Accepts ``now``, a duration meaning that long ago (``90m``, ``2d``), epoch seconds/ms/ns (by length),
    an ISO date (UTC midnight) or an ISO date-time (naive means UTC).

    Raises:
        ValueError: naming the text and the accepted forms.
    """
    value = text.strip()
    if value == "now":
        ns = now_ns
    elif _DIGITS.match(value):
        number = int(value)
        ns = number * NS if len(value) <= 11 else number * 1_000_000 if len(value) <= 14 else number
    else:
        try:
            ns = now_ns - parse_duration(value) * NS
        except ValueError:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{text!r} is not a time: use now, a duration ago (2d, 90m), epoch seconds, "
                                 "2024-05-01 or 2024-05-01T12:00:00Z") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            ns = int(moment.timestamp()) * NS
    return ns - ns % NS


def resolve_range(after: str | None, before: str | None, since: str | None, default_lookback_s: int,
                  now_ns: int) -> TimeRange:
    """The archive range: [after or now-since or now-lookback, before or now).

    Raises:
        ValueError: both --after and --since, an unreadable time, or an empty range.
    """
    if after and since:
        raise ValueError("give --after or --since, not both")
    end = parse_time(before, now_ns) if before else now_ns - now_ns % NS
    if after:
        start = parse_time(after, now_ns)
    elif since:
        start = end - parse_duration(since) * NS
    else:
        start = end - default_lookback_s * NS
    if end <= start:
        raise ValueError(f"the range {iso(start)} .. {iso(end)} is empty")
    return TimeRange(start, end)


def split_days(span: TimeRange) -> list[DaySlice]:
    """Cut [start, end) at every UTC midnight, oldest first."""
    slices: list[DaySlice] = []
    cursor = span.start_ns
    while cursor < span.end_ns:
        day = day_of(cursor)
        stop = min(day_start_ns(day) + DAY_NS, span.end_ns)
        slices.append(DaySlice(day, cursor, stop))
        cursor = stop
    return slices
