"""The archive's time: ranges on whole seconds (--after / --before / --since) cut into UTC days, one object each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial

from provisioning import timerange
from provisioning.timerange import NS, TimeRange

DAY_NS = 86_400 * NS

#: One time as the archive reads it: :func:`provisioning.timerange.parse_time` floored to the whole second.
parse_time = partial(timerange.parse_time, whole_seconds=True)


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


def resolve_range(after: str | None, before: str | None, since: str | None, default_lookback_s: int,
                  now_ns: int) -> TimeRange:
    """The archive range on whole seconds: [after, or since / the lookback before the end; before, or now).

    Raises:
        TimeRangeError: both --after and --since, an unreadable time, or an empty range.
    """
    return timerange.resolve(since, after, before, now_ns, f"{default_lookback_s}s", start_flag="--after",
                             end_flag="--before", whole_seconds=True)


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
