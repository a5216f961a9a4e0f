"""Response-time and DB-query percentiles from http.request and db.query records, computed exactly in one pass."""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from provisioning import logql
from provisioning.lokiquery import Reader
from provisioning.timerange import NS, TimeRange
from provisioning.troubleshoot.records import DB_DURATION, HTTP_DURATION, Record, parse
from provisioning.troubleshoot.stats import Summary, summarize

HOUR_NS = 3600 * NS
LOG_TYPES = ("application",)  # where http.request and db.query records are


@dataclass(frozen=True)
class DbSummary:
    summary: Summary
    timeouts: int


@dataclass(frozen=True)
class PerformanceReport:
    routes: list[Summary]  # by http.route, slowest p95 first
    hours_of_day: list[Summary]  # "00".."23" (UTC)
    peaks: list[Summary]  # clock hours with the most requests, busiest first
    db_queries: list[DbSummary]  # by db.query.text, slowest p95 first
    requests: int

    def rows(self) -> list[list[Any]]:
        """Every section as uniform rows: section, key, count, p50, p95, p99, max (ms), timeouts."""
        out: list[list[Any]] = []
        for section, summaries in (("route", self.routes), ("hour_of_day", self.hours_of_day), ("peak", self.peaks)):
            out.extend([section, s.key, s.count, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms, None] for s in summaries)
        out.extend(["db_query", d.summary.key, d.summary.count, d.summary.p50_ms, d.summary.p95_ms, d.summary.p99_ms,
                    d.summary.max_ms, d.timeouts] for d in self.db_queries)
        return out


class Accumulator:
    """Collect durations by route, hour of day, clock hour and query fingerprint; summarize at the end."""

    def __init__(self) -> None:
        self.routes: dict[str, array[float]] = defaultdict(lambda: array("d"))
        self.hours: dict[int, array[float]] = defaultdict(lambda: array("d"))
        self.clock_hours: dict[int, array[float]] = defaultdict(lambda: array("d"))
        self.queries: dict[str, array[float]] = defaultdict(lambda: array("d"))
        self.timeouts: dict[str, int] = defaultdict(int)

    def add(self, record: Record) -> None:
        event = record.get("event.name")
        if event == "http.request":
            seconds = record.get(HTTP_DURATION)
            if not _is_number(seconds):
                return
            self.routes[str(record.get("http.route") or "-")].append(seconds)
            hour = record.ts_ns // HOUR_NS
            self.hours[hour % 24].append(seconds)
            self.clock_hours[hour].append(seconds)
        elif event == "db.query":
            seconds = record.get(DB_DURATION)
            if not _is_number(seconds):
                return
            text = str(record.get("db.query.text") or "-")
            self.queries[text].append(seconds)
            if record.get("db.query.timeout") is True:
                self.timeouts[text] += 1

    def add_all(self, records: Iterable[Record]) -> Accumulator:
        for record in records:
            self.add(record)
        return self

    def report(self, peaks: int = 5) -> PerformanceReport:
        routes = sorted((summarize(k, v) for k, v in self.routes.items()), key=lambda s: -s.p95_ms)
        hours = [summarize(f"{h:02d}:00", self.hours[h]) for h in sorted(self.hours)]
        busiest = sorted(self.clock_hours, key=lambda h: (-len(self.clock_hours[h]), h))[:peaks]
        peak_rows = [summarize(_hour_label(h), self.clock_hours[h]) for h in busiest]
        queries = sorted((DbSummary(summarize(k, v), self.timeouts.get(k, 0)) for k, v in self.queries.items()),
                         key=lambda d: (-d.summary.p95_ms, -d.summary.count))
        return PerformanceReport(routes, hours, peak_rows, queries, sum(len(v) for v in self.routes.values()))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _hour_label(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%d %H:00")


def read(reader: Reader, span: TimeRange, services: Sequence[str] = (), peaks: int = 5) -> PerformanceReport:
    """Read the range's http.request and db.query records (two passes, each behind a literal line filter).

    Literal filters measured faster than one regexp alternation over the same lines (5.8 s against 7.8 s for
    435k records in a day here), and exact: every duration is kept, no histogram.
    """
    selector = logql.selector(service=services, log_type=list(LOG_TYPES))
    acc = Accumulator()
    for event in ("http.request", "db.query"):
        query = f"{selector} {logql.contains(event)}"
        acc.add_all(map(parse, reader.entries(query, span.start_ns, span.end_ns)))
    return acc.report(peaks)
