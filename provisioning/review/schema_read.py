"""The I/O of `review schema`: lines per (service, log type) in the reviewed and look-back windows (Loki metric
queries, exact), the streams' label sets (Loki's series API), and the newest ``sample`` records of each (service,
log type) in each window (one query_range each)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from provisioning import logql
from provisioning.config import Config
from provisioning.errors import TracklogError
from provisioning.lokiquery import Reader, TenantsReader, reader_for
from provisioning.review import schema
from provisioning.review.history import HistoryError
from provisioning.timerange import NS

DEFAULT_SAMPLE = 1000


class _Counted:
    """The reader, counting the requests made through it."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.queries = 0

    def _readers(self) -> int:
        return len(self.reader.readers) if isinstance(self.reader, TenantsReader) else 1

    def instant(self, query: str, at_ns: int) -> list[dict[str, Any]]:
        self.queries += self._readers()
        return self.reader.instant(query, at_ns)

    def series(self, selector: str, start_ns: int, end_ns: int) -> list[dict[str, str]]:
        self.queries += self._readers()
        return self.reader.series(selector, start_ns, end_ns)

    def newest(self, query: str, start_ns: int, end_ns: int, limit: int) -> list[tuple[int, str, dict[str, str]]]:
        self.queries += self._readers()
        data = self.reader.query_range(query, start_ns, end_ns, limit=limit, direction="backward")
        rows = [(int(ts), line, item["stream"]) for item in data["result"] for ts, line in item["values"]]
        return sorted(rows, key=lambda r: -r[0])[:limit]


def selector(services: Sequence[str], envs: Sequence[str]) -> str:
    return logql.selector(service=list(services) or None, env=list(envs) or None)


def counts(reader: _Counted, sel: str, start: float, end: float) -> dict[schema.Key, int]:
    """Lines per (service, log type) in [start, end]; a stream without a log_type label counts under ""."""
    seconds = max(1, round(end - start))
    result = reader.instant(f"sum by (service, log_type) (count_over_time({sel}[{seconds}s]))", int(end * NS))
    out: dict[schema.Key, int] = {}
    for item in result:
        labels = item.get("metric") or {}
        key = (labels.get("service", ""), labels.get("log_type", ""))
        out[key] = out.get(key, 0) + int(float(item["value"][1]))
    return out


def _parse(line: str) -> Mapping[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def sample(reader: _Counted, key: schema.Key, envs: Sequence[str], start: float, end: float, size: int,
           total: int) -> schema.Sample:
    service, log_type = key
    sel = logql.selector(service=[service], env=list(envs) or None, log_type=[log_type] if log_type else None)
    if not log_type:
        sel = sel[:-1] + ', log_type=""}'
    rows = reader.newest(sel, int(start * NS), int(end * NS), size)
    return schema.Sample(service, log_type, total, [_parse(line) for _, line, _ in rows],
                         [labels for _, _, labels in rows])


def review(config: Config, start: float, end: float, lookback: float, *, services: Sequence[str] = (),
           envs: Sequence[str] = (), size: int = DEFAULT_SAMPLE) -> schema.SchemaReview:
    """Read both windows and find what does not meet the standards.

    Raises:
        HistoryError: Loki could not answer.
    """
    started = time.perf_counter()
    reader = _Counted(reader_for(config))
    sel = selector(services, envs)
    before_start = start - lookback
    try:
        now_counts = counts(reader, sel, start, end)
        before_counts = counts(reader, sel, before_start, start)
        label_sets = reader.series(sel, int(start * NS), int(end * NS))
        now = {key: sample(reader, key, envs, start, end, size, n) for key, n in sorted(now_counts.items()) if n}
        before = {key: sample(reader, key, envs, before_start, start, size, before_counts[key])
                  for key in now if before_counts.get(key)}
    except TracklogError as exc:
        raise HistoryError(str(exc)) from None
    found = schema.findings(now, before, label_sets, now_counts, before_counts)
    new_streams = tuple(key for key in now if not before_counts.get(key))
    return schema.SchemaReview(start, end, before_start, len(now), size, tuple(found), new_streams, reader.queries,
                               time.perf_counter() - started)

