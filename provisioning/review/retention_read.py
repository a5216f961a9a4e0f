"""The I/O of `review retention`: Loki's ingestion per day, its chunk compression, the archive manifests in S3, and
Loki's query log."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import requests

from provisioning.config import Config
from provisioning.errors import TracklogError
from provisioning.review import querylog, retention
from provisioning.review.backtest import LabelSet
from provisioning.review.history import LokiSource
from provisioning.review.retention import HOUR, RetentionReview, rule_labels

LOG_TYPES = ("application", "system", "audit", "security")


def per_hour(source: LokiSource, config: Config, end: float, days: int,
             fn: str) -> dict[LabelSet, list[float]]:
    """``fn`` (bytes_over_time or count_over_time) of every stream per hour over the ``days`` days before ``end``,
    summed by log type, service and the labels retention rules match on; the last hour ends at ``end``. Hours, not
    days, so that a service that began logging within the range is averaged over the time since it began."""
    by = ", ".join(rule_labels(config))
    query = f'sum by ({by}) ({fn}({{log_type=~".+"}}[1h]))'
    hours = days * 24
    first = end - (hours - 1) * HOUR
    series = source.range(query, first, end, HOUR, align=False)
    out: dict[LabelSet, list[float]] = {}
    for labels, samples in series.items():
        row = [0.0] * hours
        for t, v in samples:
            index = round((t - first) / HOUR)
            if 0 <= index < hours:
                row[index] = v
        out[labels] = row
    return out


def compression(config: Config) -> float | None:
    """Loki's mean chunk compression ratio (loki_ingester_chunk_compression_ratio), when its /metrics answers."""
    try:
        text = requests.get(config.endpoints.loki.url + "/metrics", timeout=10).text
    except requests.RequestException:
        return None
    values = {}
    for line in text.splitlines():
        for name in ("loki_ingester_chunk_compression_ratio_sum", "loki_ingester_chunk_compression_ratio_count"):
            if line.startswith(name + " "):
                values[name] = float(line.split()[1])
    total, count = values.get("loki_ingester_chunk_compression_ratio_sum"), \
        values.get("loki_ingester_chunk_compression_ratio_count")
    return total / count if total and count else None


def archive_bytes(config: Config, prefix: str = "archive") -> tuple[dict[str, int], str]:
    """Bytes archived in S3 per log type, summed from the complete runs' manifests; or why it is not known."""
    try:
        from provisioning.archive.layout import clean_prefix, manifests_prefix
        from provisioning.archive.store import Store
        from provisioning.archive.verify import load_manifest
    except ImportError as exc:  # boto3 is an optional part of the install
        return {}, f"archive not read: {exc}"
    try:
        store = Store(config)
        start = manifests_prefix(clean_prefix(prefix))
        run_ids = [k[len(start):-len(".json")] for k in store.keys(start) if k.endswith(".json")]
        out: dict[str, int] = {}
        for run_id in run_ids:
            manifest = load_manifest(store, clean_prefix(prefix), run_id)
            out[manifest.log_type] = out.get(manifest.log_type, 0) + manifest.size
    except (TracklogError, LookupError, ValueError, OSError) as exc:
        return {}, f"archive not read: {exc}"
    return out, f"{len(run_ids)} archive run(s) in s3://{config.endpoints.s3.bucket}/{start}"


def default_query_log(config: Config) -> Path | None:
    """The native stack's Loki log, when it exists."""
    path = config.root / str(config.stack.state_dir) / "logs" / "loki.log"
    return path if path.exists() else None


def lookback(path: str | os.PathLike[str] | None) -> tuple[dict[str, tuple[int, float]], str]:
    """Per log type (queries, furthest look-back in seconds) from Loki's query log, and what was read."""
    if path is None:
        return {}, ("how far back people query: unknown (give --query-log with Loki's log; Loki writes each query "
                    "at log level info, metrics.go)")
    try:
        found = querylog.read(_lines(Path(path)), LOG_TYPES)
    except OSError as exc:
        return {}, f"how far back people query: {path} unreadable ({exc.strerror})"
    if not found:
        return {}, (f"how far back people query: no query lines in {path} (Loki logs queries at level info; "
                    "the native stack runs Loki at warn)")
    total = sum(v.queries for v in found.values())
    return {k: (v.queries, v.max_seconds) for k, v in found.items()}, f"{total} queries read from {path}"


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        yield from handle


def review(config: Config, end: float, days: int, loki_price: float, s3_price: float,
           query_log: str | os.PathLike[str] | None, prefix: str = "archive") -> RetentionReview:
    """Read everything `review retention` reports and put it together.

    Raises:
        HistoryError: Loki could not answer.
    """
    source = LokiSource(config)
    groups = retention.groups(config, per_hour(source, config, end, days, "bytes_over_time"),
                              per_hour(source, config, end, days, "count_over_time"), days)
    ratio = compression(config)
    archived, archive_note = archive_bytes(config, prefix)
    reach, lookback_note = lookback(query_log)
    notes = []
    if config.endpoints.loki.tenants:
        notes.append(f"only tenant {config.endpoints.loki.tenant or '(default)'} was read: Loki 2.2 cannot query "
                     "several tenants at once")
    return RetentionReview(days, tuple(groups), ratio, loki_price, s3_price, archived, archive_note, lookback_note,
                           tuple(retention.suggest(config, groups, reach, ratio, loki_price)), source.queries,
                           tuple(notes))
