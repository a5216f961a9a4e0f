"""The pure parts of the troubleshooting commands: times, LogQL, fingerprints, percentiles, grouping, tables."""

from __future__ import annotations

import json
import math
import statistics
import threading
from datetime import UTC, datetime

import pytest

from provisioning.logql import field_equals, matcher, selector
from provisioning.lokiquery import Entry
from provisioning.timerange import NS, TimeRangeError, format_ns, parse_duration, parse_time, resolve
from provisioning.troubleshoot import fingerprint, parse, percentile, summarize, template
from provisioning.troubleshoot.errorgroups import group
from provisioning.troubleshoot.follow import follow
from provisioning.troubleshoot.performance import Accumulator
from provisioning.troubleshoot.search import LogFilters
from provisioning.troubleshoot.table import clip, format_table, to_csv
from provisioning.troubleshoot.timeline import build, verdict
from provisioning.troubleshoot.views import log_row

NOW = 1_795_000_000 * NS  # 2026-11-17T...Z


def record(ts_s: float, service: str = "api", level: str = "info", **fields: object):
    line = json.dumps({"message": fields.pop("message", "m"), **fields})
    return parse(Entry(int(ts_s * NS), line, {"service": service, "level": level, "log_type": "application"}))


# --- time ranges ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("30m", NOW - 1800 * NS), ("2h", NOW - 7200 * NS), ("7d", NOW - 7 * 86400 * NS), ("1h30m", NOW - 5400 * NS),
    ("now", NOW), ("now-1h", NOW - 3600 * NS), ("500ms", NOW - 500_000_000),
])
def test_relative_times_count_back_from_now(text: str, expected: int) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize(("text", "iso"), [
    ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00+00:00"),
    ("2026-11-26T12:00:00+02:00", "2026-11-26T10:00:00+00:00"),
    ("2026-11-26T10:00:00", "2026-11-26T10:00:00+00:00"),  # no offset: UTC
    ("2026-11-26", "2026-11-26T00:00:00+00:00"),
])
def test_rfc3339_times_and_dates(text: str, iso: str) -> None:
    assert parse_time(text, NOW) == int(datetime.fromisoformat(iso).timestamp()) * NS


def test_fractional_seconds_are_kept_exactly() -> None:
    assert parse_time("2026-11-26T10:00:00.123456Z", NOW) % NS == 123_456_000


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "30", "5 minutes", "-1h", ""])
def test_unreadable_times_are_refused_with_the_forms_accepted(text: str) -> None:
    with pytest.raises(TimeRangeError, match=r"--from .* is not a time; use RFC3339"):
        parse_time(text, NOW, "--from")


def test_resolve_defaults_to_since_back_from_now_or_from_to() -> None:
    span = resolve(None, None, None, NOW, "1h")
    assert (span.start_ns, span.end_ns) == (NOW - 3600 * NS, NOW)
    span = resolve("2h", None, "2026-11-26T12:00:00Z", NOW, "1h")
    assert span.end_ns - span.start_ns == 7200 * NS
    assert format_ns(span.start_ns, 0) == "2026-11-26T10:00:00Z"


@pytest.mark.parametrize(("since", "start", "end", "message"), [
    (None, "1h", "2h", "empty or reversed: from .* is not before to"),
    (None, "2026-11-26T10:00:00Z", "2026-11-26T10:00:00Z", "empty or reversed"),
    ("1h", "2h", None, "give --since or --from, not both"),
    ("an hour", None, None, "--since: 'an hour' is not a duration"),
    ("0m", None, None, "zero duration"),
    (None, None, "tomorrow", "--to 'tomorrow' is not a time"),
])
def test_bad_ranges_are_refused_plainly(since: str | None, start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(TimeRangeError, match=message):
        resolve(since, start, end, NOW, "1h")


def test_durations() -> None:
    assert parse_duration("1d2h") == 26 * 3600 * NS
    with pytest.raises(TimeRangeError):
        parse_duration("1y")


# --- LogQL ---------------------------------------------------------------------------------------------------------

def test_selector_and_matchers() -> None:
    assert selector() == '{service=~".+"}'
    assert selector(service=["api"], level=None, log_type=[]) == '{service="api"}'
    assert matcher("service", ["a.b", "c"]) == 'service=~"a\\\\.b|c"'


def test_field_filter_is_a_literal_then_an_exact_regexp() -> None:
    assert field_equals("error.type", "Boom") == '|= "Boom" |~ "\\"error\\\\.type\\"\\\\s*:\\\\s*\\"Boom\\""'


def test_log_filters_build_the_query_and_check_fields_exactly() -> None:
    filters = LogFilters(services=["api", "web"], levels=["warning"], error_type="KeyError", texts=["order"])
    query = filters.query()
    assert query.startswith('{service=~"api|web", level="warn"} |= "KeyError" |~ ')
    assert query.endswith('|= "order"')
    assert filters.matches(record(1, **{"error.type": "KeyError"}))
    assert not filters.matches(record(1, **{"error.type": "KeyErrorX", "message": "KeyError"}))


# --- fingerprints --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("first", "second"), [
    ("order o-123 not found for user 42", "order o-98765 not found for user 7"),
    ("payment 3f2c9a1e-7b7d-4c1e-9a55-2b7f1c0d9e11 declined", "payment 0a1b2c3d-0000-4000-8000-123456789abc declined"),
    ("trace 28d7a602cd2c7a2f69ee9cf79c16c7b7 slow", "trace 0b6d59780e1f5f8d15fba2d8b8260fef slow"),
    ("no route to 10.0.0.12:5432", "no route to 192.168.1.1:6379"),
    ("user 'anna' is locked", "user 'bob o''neil' is locked"),
    ("can't find 'o-1' now", "can't find 'o-22' now"),
    ('key "a1" missing', 'key "zz" missing'),
    ("token ord_8fK2pQ1x expired at 2026-11-26T10:00:00Z", "token ord_Zz9yY8xX expired at 2026-11-25T09:59:59.5Z"),
    ("mail to anna@example.org bounced", "mail to b.c@mail.example.com bounced"),
    ("timed out after 1500ms (pool size 10)", "timed out after 3.5ms (pool size 20)"),
])
def test_messages_differing_only_in_values_share_a_template(first: str, second: str) -> None:
    assert template(first) == template(second)


def test_templates_keep_the_words() -> None:
    assert template("order o-123 not found for user 42") == "order o-<num> not found for user <num>"
    assert template("GET /orders/{id}/track 504 1605.2ms") == "GET /orders/{id}/track <num> <num>ms"
    assert template("first line 1\n  stack 2") == "first line <num>"


def test_fingerprint_is_kind_template_and_function() -> None:
    err = record(1, **{"error.type": "KeyError", "error.message": "order 7", "code.function": "load",
                       "message": "KeyError: order 7"})
    assert fingerprint(err) == ("KeyError", "order <num>", "load")
    http = record(1, **{"event.name": "http.request", "http.response.status_code": 502, "message": "GET / 502 3ms"})
    assert fingerprint(http).kind == "HTTP 502"
    db = record(1, **{"event.name": "db.query", "db.query.timeout": True, "message": "db SELECT timed out"})
    assert fingerprint(db).kind == "DB timeout"


def test_groups_count_first_last_and_the_services_erring_in_the_same_minutes() -> None:
    base = 1_795_000_020
    records = [
        record(base, "api", "error", **{"error.type": "E", "error.message": "order 1", "code.function": "f"}),
        record(base + 1, "db", "error", **{"event.name": "db.query", "db.query.timeout": True, "message": "t 9ms"}),
        record(base + 2, "api", "error", **{"error.type": "E", "error.message": "order 2", "code.function": "f"}),
        record(base + 600, "web", "error", **{"error.type": "W", "message": "far later"}),
    ]
    groups = group(records)
    top = groups[0]
    assert (top.fingerprint.kind, top.count) == ("E", 2)
    assert (top.first_ns, top.last_ns) == (base * NS, (base + 2) * NS)
    assert top.example is records[2]
    assert top.nearby == {"db": (1, 1, "DB timeout: t <num>ms")}  # web erred ten minutes later: not nearby
    assert [g.count for g in groups] == [2, 1, 1]


# --- percentiles ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 5, 20, 101, 1000])
def test_percentile_matches_the_inclusive_linear_definition(n: int) -> None:
    values = sorted((i * 7919) % 1009 / 1000 for i in range(n))
    assert percentile(values, 0.0) == values[0]
    assert percentile(values, 1.0) == values[-1]
    if n > 1:
        expected = statistics.quantiles(values, n=100, method="inclusive")
        for q in (0.5, 0.95, 0.99):
            assert percentile(values, q) == pytest.approx(expected[round(q * 100) - 1])


def test_percentile_edges() -> None:
    assert percentile([1.0, 2.0], 0.5) == 1.5
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 1.5)


def test_summarize_in_milliseconds() -> None:
    s = summarize("/r", [0.001 * i for i in range(1, 101)])
    assert (s.count, s.max_ms) == (100, pytest.approx(100.0))
    assert s.p50_ms == pytest.approx(50.5)
    assert s.p95_ms == pytest.approx(95.05)
    assert math.isnan(summarize("/empty", []).p95_ms)


def test_accumulator_by_route_hour_peak_and_query() -> None:
    hour = 1_795_003_200  # 2026-11-17T...:00:00Z, an hour boundary
    acc = Accumulator()
    for i in range(10):
        acc.add(record(hour + i, **{"event.name": "http.request", "http.route": "/a",
                                    "http.server.request.duration": 0.01 * (i + 1)}))
    acc.add(record(hour + 3600, **{"event.name": "http.request", "http.route": "/b",
                                   "http.server.request.duration": 0.5}))
    acc.add(record(hour, **{"event.name": "http.request", "http.route": "/c", "http.server.request.duration": "x"}))
    acc.add(record(hour, **{"event.name": "db.query", "db.query.text": "SELECT ?", "db.query.duration": 2.0,
                            "db.query.timeout": True}))
    report = acc.report()
    assert [r.key for r in report.routes] == ["/b", "/a"]  # slowest p95 first; the non-numeric one is skipped
    assert report.routes[1].p95_ms == pytest.approx(percentile([0.01 * (i + 1) for i in range(10)], 0.95) * 1000)
    hod = datetime.fromtimestamp(hour, UTC).hour
    assert [(h.key, h.count) for h in report.hours_of_day] == [(f"{hod:02d}:00", 10), (f"{(hod + 1) % 24:02d}:00", 1)]
    assert report.peaks[0].count == 10
    assert (report.db_queries[0].summary.key, report.db_queries[0].timeouts) == ("SELECT ?", 1)
    assert report.rows()[0][:3] == ["route", "/b", 1]


# --- traces --------------------------------------------------------------------------------------------------------

def test_trace_orders_records_and_measures_offsets_and_gaps() -> None:
    records = [
        record(10.050, "api", "error", **{"error.type": "Timeout", "code.function": "load", "code.filepath": "a.py",
                                          "code.lineno": 7, "request.id": "r1"}),
        record(10.000, "web", "info", **{"user.id": "u-1", "ui.action": "open_map", "request.id": "r1"}),
        record(10.060, "api", "info", **{"event.name": "http.request", "http.server.request.duration": 0.06}),
    ]
    timeline = build("t", records)
    assert [s.record.service for s in timeline.steps] == ["web", "api", "api"]
    assert [round(s.offset_ms, 3) for s in timeline.steps] == [0.0, 50.0, 60.0]
    assert [round(s.gap_ms, 3) for s in timeline.steps] == [0.0, 50.0, 10.0]
    assert timeline.services == ["web", "api"]
    assert timeline.steps[2].record.duration_s == 0.06
    (line,) = verdict(timeline)
    assert "Timeout" in line
    assert "load (a.py:7)" in line
    assert "user u-1 (open_map)" in line
    assert "request r1" in line


# --- following -----------------------------------------------------------------------------------------------------

class _ScriptedReader:
    """Answers each poll from a script of entry lists, then sets the stop event."""

    def __init__(self, polls: list[list[Entry]], stop: threading.Event) -> None:
        self.polls = polls
        self.stop = stop
        self.windows: list[tuple[int, int]] = []

    def entries(self, query: str, start_ns: int, end_ns: int):
        self.windows.append((start_ns, end_ns))
        answer = self.polls.pop(0)
        if not self.polls:
            self.stop.set()
        return iter([e for e in answer if start_ns <= e.timestamp_ns < end_ns])


def test_follow_shows_each_new_entry_once_and_late_arrivals_inside_the_overlap() -> None:
    labels = {"service": "api"}
    a, b, c = (Entry(t * NS, f"line {t}", labels) for t in (100, 101, 103))
    late = Entry(100 * NS + 5, "late", labels)  # reached Loki after b, with an older timestamp
    stop = threading.Event()
    clock = iter([102 * NS, 104 * NS, 105 * NS])
    reader = _ScriptedReader([[a, b], [a, late, b, c], [c]], stop)
    shown = list(follow(reader, "{}", 100 * NS, stop, seen={(a.timestamp_ns, "service=api", a.line)},
                        interval=0, overlap_s=5, clock=lambda: next(clock)))
    assert [e.line for e in shown] == ["line 101", "late", "line 103"]  # a was shown before following began
    assert reader.windows[1][0] == 100 * NS  # never before the floor


# --- tables --------------------------------------------------------------------------------------------------------

def test_table_aligns_numbers_right_and_clips_long_cells() -> None:
    text = format_table(("name", "count", "p95"), [["a", 1, 2.25], ["bbbb", 100, math.nan]], {"name": 3})
    assert text.splitlines() == [
        "name  count  p95",
        "a         1  2.2",
        "bb…     100    -",
    ]
    assert clip("abc", 3) == "abc"


def test_csv_and_log_rows() -> None:
    assert to_csv(("k", "v", "n"), [["a,b", 1.5, None]]) == 'k,v,n\n"a,b",1.500,\n'
    row = log_row(record(1_795_000_000.5, message="hello\nworld", trace_id="0123456789abcdef"))
    assert row[1:] == ["api", "info", "application", "hello\nworld", "01234567"]
    assert format_table(("m",), [[row[4]]]).splitlines()[1] == "hello⏎world"
