"""Lay out one trace: its records across services in time order, with offsets, gaps, durations and where it failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioning import logql
from provisioning.lokiquery import Reader
from provisioning.timerange import TimeRange, format_ns
from provisioning.troubleshoot.errors import TraceNotFound
from provisioning.troubleshoot.fingerprint import kind_of
from provisioning.troubleshoot.records import Record, parse

MS = 1_000_000  # nanoseconds in a millisecond


@dataclass(frozen=True)
class Step:
    record: Record
    offset_ms: float  # since the trace's first record
    gap_ms: float  # since the previous record


@dataclass(frozen=True)
class Timeline:
    trace_id: str
    steps: list[Step]

    @property
    def span_ms(self) -> float:
        return (self.steps[-1].record.ts_ns - self.steps[0].record.ts_ns) / MS if self.steps else 0.0

    @property
    def services(self) -> list[str]:
        """The services in the order they first appear."""
        return list(dict.fromkeys(s.record.service for s in self.steps))

    def values(self, key: str) -> list[str]:
        """The distinct values of a field across the trace (user.id, request.id, ui.action ...), in order."""
        return list(dict.fromkeys(str(s.record.get(key)) for s in self.steps if s.record.get(key) is not None))

    @property
    def failures(self) -> list[Record]:
        return [s.record for s in self.steps if s.record.is_error]


def find(reader: Reader, trace_id: str, span: TimeRange, services: list[str] | None = None) -> Timeline:
    """Read every record of the trace in the range; a short id matches the trace ids it begins.

    Raises:
        TraceNotFound: no record carries the id, or a short id matches several traces.
    """
    query = f"{logql.selector(service=services)} {logql.contains(trace_id)}"
    records = [r for r in map(parse, reader.entries(query, span.start_ns, span.end_ns))
               if r.trace_id.startswith(trace_id)]
    ids = sorted({r.trace_id for r in records})
    if not ids:
        raise TraceNotFound(f"no record with trace_id {trace_id} between {format_ns(span.start_ns, 0)} and "
                            f"{format_ns(span.end_ns, 0)}; widen the range with --since or --from/--to")
    if len(ids) > 1:
        raise TraceNotFound(f"{trace_id} begins {len(ids)} trace ids ({', '.join(ids[:5])}"
                            f"{', ...' if len(ids) > 5 else ''}); give more of it")
    return build(ids[0], records)


def build(trace_id: str, records: list[Record]) -> Timeline:
    """Order the records by time (then service) and measure each one's offset and gap."""
    ordered = sorted(records, key=lambda r: (r.ts_ns, r.service))
    steps: list[Step] = []
    for i, record in enumerate(ordered):
        offset = (record.ts_ns - ordered[0].ts_ns) / MS
        gap = (record.ts_ns - ordered[i - 1].ts_ns) / MS if i else 0.0
        steps.append(Step(record, offset, gap))
    return Timeline(trace_id, steps)


def origin(record: Record) -> str:
    """``function (file:line)`` from the code.* fields, or ``-``."""
    function = record.get("code.function")
    where = record.get("code.filepath")
    if where and record.get("code.lineno") is not None:
        where = f"{where}:{record.get('code.lineno')}"
    if function and where:
        return f"{function} ({where})"
    return str(function or where or "-")


def server(record: Record) -> str:
    """Where the record ran: the service, plus its host and any server it talked to (a DB's server.address)."""
    parts = [record.service]
    host = record.labels.get("host") or record.get("host.name")
    if host:
        parts.append(f"host {host}")
    if record.get("server.address"):
        parts.append(f"server {record.get('server.address')}")
    return ", ".join(parts)


def verdict(timeline: Timeline) -> list[str]:
    """One line per failing record: what failed, in which function, on which server, for which user and request."""
    users = ", ".join(timeline.values("user.id")) or "-"
    actions = ", ".join(timeline.values("ui.action"))
    routes = ", ".join(timeline.values("http.route"))
    lines = []
    for record in timeline.failures:
        detail = record.get("error.message") or record.message
        offset = (record.ts_ns - timeline.steps[0].record.ts_ns) / MS
        user = record.get("user.id") or users
        lines.append(f"+{offset:.1f}ms {kind_of(record)}: {detail} — in {origin(record)} on {server(record)}; "
                     f"user {user}" + (f" ({actions})" if actions else "")
                     + f", request {record.get('request.id') or '-'}" + (f", routes {routes}" if routes else ""))
    return lines


def as_json(timeline: Timeline) -> dict[str, Any]:
    first = timeline.steps[0].record.ts_ns if timeline.steps else 0
    return {
        "trace_id": timeline.trace_id,
        "start": format_ns(first, 6),
        "span_ms": round(timeline.span_ms, 3),
        "services": timeline.services,
        "users": timeline.values("user.id"),
        "requests": timeline.values("request.id"),
        "failures": verdict(timeline),
        "records": [{
            "time": format_ns(s.record.ts_ns, 6),
            "offset_ms": round(s.offset_ms, 3),
            "gap_ms": round(s.gap_ms, 3),
            "service": s.record.service,
            "level": s.record.level,
            "event": s.record.get("event.name"),
            "duration_ms": None if s.record.duration_s is None else round(s.record.duration_s * 1000, 3),
            "function": s.record.get("code.function"),
            "origin": origin(s.record),
            "user_id": s.record.get("user.id"),
            "request_id": s.record.get("request.id"),
            "message": s.record.message,
            "record": s.record.fields,
        } for s in timeline.steps],
    }
