"""Text views of the troubleshooting results: log lines, a trace, error fingerprints, a performance report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from provisioning.timerange import format_ns
from provisioning.troubleshoot.errorgroups import ErrorGroup, nearby_text
from provisioning.troubleshoot.performance import PerformanceReport
from provisioning.troubleshoot.records import Record, short
from provisioning.troubleshoot.stats import Summary
from provisioning.troubleshoot.table import cell, clip, format_table
from provisioning.troubleshoot.timeline import Timeline, origin, verdict

LOG_HEADERS = ("time", "service", "level", "log_type", "message", "trace")


def log_row(record: Record) -> list[Any]:
    return [format_ns(record.ts_ns), record.service, record.level, record.log_type, record.message,
            short(record.trace_id) or "-"]


def log_line(record: Record) -> str:
    """One entry on one line, for following: time, service, level, log type, message, trace."""
    when, service, level, log_type, message, trace = log_row(record)
    return f"{when}  {service:<16} {level:<8} {log_type:<11} {cell(message)}  {trace}"


def log_table(records: Sequence[Record], message_width: int = 100) -> str:
    return format_table(LOG_HEADERS, [log_row(r) for r in records], {"message": message_width})


def log_json(record: Record) -> dict[str, Any]:
    return {"time": format_ns(record.ts_ns, 9), "labels": record.labels, "record": record.fields}


def trace_view(timeline: Timeline) -> str:
    head = [
        f"trace {timeline.trace_id}: {len(timeline.steps)} records, {timeline.span_ms:.1f} ms, "
        f"services {' -> '.join(timeline.services)}",
        f"users: {', '.join(timeline.values('user.id')) or '-'}   "
        f"requests: {', '.join(timeline.values('request.id')) or '-'}",
    ]
    rows = [[f"+{s.offset_ms:.1f}", f"+{s.gap_ms:.1f}", s.record.service, s.record.level,
             None if s.record.duration_s is None else s.record.duration_s * 1000, origin(s.record),
             s.record.get("user.id"), short(str(s.record.get("request.id") or "")) or None, s.record.message]
            for s in timeline.steps]
    table = format_table(("offset_ms", "gap_ms", "service", "level", "duration_ms", "function", "user", "request",
                          "message"), rows, {"function": 60, "message": 90})
    failures = verdict(timeline)
    tail = ["", "failed:", *(f"  {line}" for line in failures)] if failures else ["", "no errors in this trace"]
    return "\n".join([*head, "", table, *tail])


def errors_view(groups: Sequence[ErrorGroup], total: int, alongside: int = 5) -> str:
    """A table of fingerprints, then for each an example line and the services erring in the same minutes."""
    if not groups:
        return "no error records in this range"
    rows = [[i, g.count, g.fingerprint.kind, g.fingerprint.function, g.fingerprint.template,
             ", ".join(g.services), format_ns(g.first_ns, 0), format_ns(g.last_ns, 0)]
            for i, g in enumerate(groups, 1)]
    table = format_table(("#", "count", "kind", "function", "message template", "services", "first seen",
                          "last seen"), rows, {"kind": 30, "function": 30, "message template": 80, "services": 40})
    details: list[str] = []
    for i, g in enumerate(groups, 1):
        if g.example is not None:
            trace = f" (trace {short(g.example.trace_id)})" if g.example.trace_id else ""
            details.append(f"[{i}] {format_ns(g.example.ts_ns)} {g.example.service}: "
                           f"{clip(cell(g.example.message), 160)}{trace}")
        details.append(f"    alongside, in its {len(g.minutes)} min: {nearby_text(g, alongside)}")
    return "\n".join([f"{total} error records; {len(groups)} fingerprints shown", "", table, "", *details])


def _summaries(title: str, key: str, summaries: Sequence[Summary], width: int = 70) -> list[str]:
    rows = [[s.key, s.count, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms] for s in summaries]
    return [title, format_table((key, "count", "p50_ms", "p95_ms", "p99_ms", "max_ms"), rows, {key: width})
            if rows else "  (none)", ""]


def report_view(report: PerformanceReport) -> str:
    db_rows = [[d.summary.key, d.summary.count, d.summary.p50_ms, d.summary.p95_ms, d.summary.p99_ms,
                d.summary.max_ms, d.timeouts] for d in report.db_queries]
    db = format_table(("query fingerprint", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms", "timeouts"), db_rows,
                      {"query fingerprint": 80}) if db_rows else "  (none)"
    return "\n".join([
        f"{report.requests} requests",
        "",
        *_summaries("response time by http.route (slowest p95 first)", "route", report.routes),
        *_summaries("response time by hour of day (UTC)", "hour", report.hours_of_day),
        *_summaries("peak periods (hours with the most requests, UTC)", "hour", report.peaks),
        "slowest DB query fingerprints (by p95)",
        db,
    ])
