"""Group error records by fingerprint, and find which other services logged errors in the same minutes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from provisioning import logql
from provisioning.lokiquery import Reader
from provisioning.timerange import NS, TimeRange, format_ns
from provisioning.troubleshoot.fingerprint import Fingerprint, fingerprint
from provisioning.troubleshoot.records import Record, parse

MINUTE_NS = 60 * NS


@dataclass
class ErrorGroup:
    fingerprint: Fingerprint
    count: int = 0
    first_ns: int = 0
    last_ns: int = 0
    example: Record | None = None
    services: Counter[str] = field(default_factory=Counter)
    minutes: set[int] = field(default_factory=set)
    # other services' error records in this group's minutes: service -> (records, minutes shared, top fingerprint)
    nearby: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        if not self.count or record.ts_ns < self.first_ns:
            self.first_ns = record.ts_ns
        if not self.count or record.ts_ns >= self.last_ns:
            self.last_ns = record.ts_ns
            self.example = record
        self.count += 1
        self.services[record.service] += 1
        self.minutes.add(record.ts_ns // MINUTE_NS)


def group(records: Iterable[Record], services: Collection[str] = ()) -> list[ErrorGroup]:
    """Group by fingerprint, most frequent first, each with the other services erring in the same minutes.

    Args:
        records: error records of every service (co-occurrence looks at all of them).
        services: group only these services' records (default: all).
    """
    groups: dict[Fingerprint, ErrorGroup] = {}
    by_minute: dict[int, Counter[str]] = defaultdict(Counter)
    kinds_by_minute: dict[tuple[int, str], Counter[Fingerprint]] = defaultdict(Counter)
    for record in records:
        key = fingerprint(record)
        if not services or record.service in services:
            groups.setdefault(key, ErrorGroup(key)).add(record)
        minute = record.ts_ns // MINUTE_NS
        by_minute[minute][record.service] += 1
        kinds_by_minute[minute, record.service][key] += 1
    for g in groups.values():
        counts: Counter[str] = Counter()
        shared: Counter[str] = Counter()
        kinds: dict[str, Counter[Fingerprint]] = defaultdict(Counter)
        for minute in g.minutes:
            for service, n in by_minute[minute].items():
                if service not in g.services:
                    counts[service] += n
                    shared[service] += 1
                    kinds[service].update(kinds_by_minute[minute, service])
        g.nearby = {s: (n, shared[s], describe(kinds[s].most_common(1)[0][0])) for s, n in counts.most_common()}
    return sorted(groups.values(), key=lambda g: (-g.count, -g.last_ns))


def describe(key: Fingerprint) -> str:
    return f"{key.kind}: {key.template}"


def nearby_text(g: ErrorGroup, limit: int = 5) -> str:
    """The other services erring in this group's minutes, most errors first: ``db (12 in 3 min: DB timeout: ...)``."""
    shown = [f"{s} ({n} in {m} min: {top})" for s, (n, m, top) in list(g.nearby.items())[:limit]]
    more = len(g.nearby) - len(shown)
    return "; ".join(shown + ([f"+{more} more"] if more > 0 else [])) or "no other service"


def as_json(g: ErrorGroup) -> dict[str, Any]:
    example = g.example
    return {
        "kind": g.fingerprint.kind,
        "template": g.fingerprint.template,
        "function": g.fingerprint.function,
        "count": g.count,
        "first_seen": format_ns(g.first_ns),
        "last_seen": format_ns(g.last_ns),
        "services": dict(g.services),
        "minutes": len(g.minutes),
        "co_occurring": [{"service": s, "errors": n, "minutes": m, "top": top} for s, (n, m, top) in g.nearby.items()],
        "example": None if example is None else {
            "time": format_ns(example.ts_ns), "service": example.service, "trace_id": example.trace_id or None,
            "message": example.message, "line": example.line,
        },
    }


def read(reader: Reader, span: TimeRange) -> Iterator[Record]:
    """Every error and critical record of every service in the range (by the level label), oldest first."""
    query = logql.selector(level=["error", "critical"])
    return map(parse, reader.entries(query, span.start_ns, span.end_ns))
