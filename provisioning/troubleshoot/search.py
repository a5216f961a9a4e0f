"""Find log entries: the LogQL for a set of filters, and the newest (or all) entries of a range, in time order."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from provisioning import logql
from provisioning.lokiquery import MAX_PAGE, Entry, Reader
from provisioning.troubleshoot.records import Record


@dataclass(frozen=True)
class LogFilters:
    services: Sequence[str] = ()
    envs: Sequence[str] = ()
    log_types: Sequence[str] = ()
    levels: Sequence[str] = ()
    error_type: str = ""
    trace_id: str = ""
    texts: Sequence[str] = field(default_factory=tuple)

    def query(self) -> str:
        """The LogQL: labels in the selector; error.type and trace_id as exact JSON line filters; text as |=."""
        parts = [logql.selector(service=self.services, env=self.envs, log_type=self.log_types,
                                level=logql.normalize_levels(self.levels))]
        if self.trace_id:
            parts.append(logql.field_equals("trace_id", self.trace_id))
        if self.error_type:
            parts.append(logql.field_equals("error.type", self.error_type))
        parts.extend(logql.contains(text) for text in self.texts)
        return " ".join(parts)

    def matches(self, record: Record) -> bool:
        """Check the JSON fields exactly (the line filters can only say the text is there)."""
        if self.trace_id and record.get("trace_id") != self.trace_id:
            return False
        return not (self.error_type and record.get("error.type") != self.error_type)


def newest(reader: Reader, query: str, start_ns: int, end_ns: int, limit: int) -> list[Entry]:
    """The newest ``limit`` entries of [start, end), oldest first; every entry when ``limit`` is 0.

    Up to Loki's page size this is one backward query (per tenant); beyond it, every entry is paged through
    ``entries``.
    """
    if 0 < limit <= MAX_PAGE:
        data = reader.query_range(query, start_ns, end_ns, limit=limit, direction="backward")
        rows = sorted((int(ts), line, logql_key(stream["stream"]), stream["stream"])
                      for stream in data["result"] for ts, line in stream["values"])
        return [Entry(ts, line, labels) for ts, line, _, labels in rows[-limit:]]
    if limit <= 0:
        return list(reader.entries(query, start_ns, end_ns))
    return list(deque(reader.entries(query, start_ns, end_ns), maxlen=limit))


def logql_key(labels: dict[str, str]) -> str:
    """A stable sort key for a stream's labels, so equal timestamps order the same way every time."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
