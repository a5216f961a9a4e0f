"""`review retention`: what Loki ingests per day by log type and service, what the configured retention keeps at
steady state, what the archive holds in S3, what that costs, and how far back people actually read."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from provisioning.config import Config
from provisioning.selector import parse as parse_selector

DAY = 86_400.0
HOUR = 3_600.0
GB = 1e9


@dataclass(frozen=True)
class Group:
    """The streams of one log type and service, and the retention rule that keeps them."""

    log_type: str
    service: str
    bytes_per_day: tuple[float, ...]  # one per day of the range, oldest first
    lines_per_day: tuple[float, ...]
    retention_seconds: int | None  # None: no rule of tracklog.yaml matches (Loki's global retention applies)
    rule: str  # the matching rule's selector and place, e.g. '{log_type="application"} (tracklog.yaml:52)'
    seen_seconds: float  # from the start of the first hour with any bytes to the end of the range

    @property
    def days_seen(self) -> float:
        """Days from the first hour with any bytes to the end: a service that started logging 2 days ago, or 3 hours
        ago, is averaged over those 2 days or 3 hours, not the whole range."""
        return self.seen_seconds / DAY

    @property
    def average_bytes(self) -> float:
        return sum(self.bytes_per_day) / self.days_seen if self.days_seen else 0.0

    @property
    def average_lines(self) -> float:
        return sum(self.lines_per_day) / self.days_seen if self.days_seen else 0.0

    @property
    def steady_bytes(self) -> float | None:
        """Raw bytes kept once the retention is full: the daily average times the days kept."""
        return None if self.retention_seconds is None else self.average_bytes * self.retention_seconds / DAY


@dataclass(frozen=True)
class Suggestion:
    log_type: str
    retention_days: float
    suggested_days: int
    lookback_days: float
    queries: int
    saved_gb: float
    saved_per_month: float
    caveat: str = ""


@dataclass(frozen=True)
class RetentionReview:
    days: int
    groups: tuple[Group, ...]
    compression: float | None  # Loki's chunk compression ratio, when its /metrics says
    loki_price: float
    s3_price: float
    archive_bytes: dict[str, int]  # log type -> bytes in S3 per the archive manifests
    archive_note: str
    lookback_note: str
    suggestions: tuple[Suggestion, ...]
    queries: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def stored_bytes(self, raw: float) -> float:
        return raw / self.compression if self.compression else raw


def retention_of(config: Config, labels: Mapping[str, str]) -> tuple[int | None, str]:
    """The retention Loki applies to a stream: its highest-priority matching rule (Loki's ``retention_stream``)."""
    best = None
    for rule in config.retention_rules:
        if parse_selector(rule.selector).matches(labels) and (best is None or rule.priority > best.priority):
            best = rule
    if best is None:
        return None, "no rule: Loki's global retention"
    return best.retention_seconds, f"{best.selector} ({config.path.name}:{best.line})"


def rule_labels(config: Config) -> list[str]:
    """The labels to split ingestion by: log type, service and every label a retention rule matches on."""
    names = ["log_type", "service"]
    for rule in config.retention_rules:
        names += [name for name, _, _ in rule.matchers if name not in names]
    return names


def groups(config: Config, bytes_series: Mapping[tuple[tuple[str, str], ...], Sequence[float]],
           lines_series: Mapping[tuple[tuple[str, str], ...], Sequence[float]], days: int) -> list[Group]:
    """Per log type and service, summed over the finer series (each a value per hour of the ``days`` days, oldest
    first); each finer series keeps its own rule's retention, so a group's retention is its bytes-weighted one
    (exactly one rule when the rules split no further)."""
    hours = days * 24
    acc: dict[tuple[str, str], dict] = defaultdict(lambda: {"bytes": [0.0] * hours, "lines": [0.0] * hours,
                                                            "kept": 0.0, "rules": set(), "none": False})
    for labels, per_hour in bytes_series.items():
        as_dict = dict(labels)
        entry = acc[(as_dict.get("log_type", ""), as_dict.get("service", ""))]
        for i, v in enumerate(per_hour[:hours]):
            entry["bytes"][i] += v
        seconds, rule = retention_of(config, as_dict)
        entry["rules"].add(rule)
        if seconds is None:
            entry["none"] = True
        else:
            entry["kept"] += sum(per_hour) * seconds
    for labels, per_hour in lines_series.items():
        as_dict = dict(labels)
        entry = acc[(as_dict.get("log_type", ""), as_dict.get("service", ""))]
        for i, v in enumerate(per_hour[:hours]):
            entry["lines"][i] += v
    out = []
    for (log_type, service), e in sorted(acc.items()):
        total = sum(e["bytes"])
        seconds = None if e["none"] or not total else round(e["kept"] / total)
        first = next((i for i, v in enumerate(e["bytes"]) if v), hours)
        out.append(Group(log_type, service, _by_day(e["bytes"]), _by_day(e["lines"]), seconds,
                         " + ".join(sorted(e["rules"])), (hours - first) * HOUR))
    return out


def _by_day(per_hour: Sequence[float]) -> tuple[float, ...]:
    return tuple(sum(per_hour[i:i + 24]) for i in range(0, len(per_hour), 24))


def suggest(config: Config, all_groups: Sequence[Group], lookback: Mapping[str, tuple[int, float]],
            compression: float | None, price: float, min_queries: int = 20) -> list[Suggestion]:
    """Log types kept more than twice as long as anyone read back (with at least ``min_queries`` queries seen):
    keep them for the longest look-back, in whole days, at least one day."""
    archived = set(config.archive.log_types) if config.archive else set()
    out = []
    for log_type, (queries, back) in sorted(lookback.items()):
        mine = [g for g in all_groups if g.log_type == log_type and g.retention_seconds]
        if queries < min_queries or not mine:
            continue
        kept = max(g.retention_seconds or 0 for g in mine) / DAY
        suggested = max(1, math.ceil(back / DAY))
        if kept <= 2 * suggested:
            continue
        saved = sum(g.average_bytes * (g.retention_seconds / DAY - suggested) for g in mine
                    if g.retention_seconds and g.retention_seconds / DAY > suggested)
        saved /= compression or 1.0
        caveat = ("archived to S3 (archive.log_types); a compliance period may require Loki to keep it"
                  if log_type in archived else "")
        out.append(Suggestion(log_type, kept, suggested, back / DAY, queries, saved / GB, saved / GB * price, caveat))
    return out
