"""What every detector returns: a :class:`Finding`, and the helpers to read a record's time and show it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioning.timerange import TimeRangeError, format_ns, parse_time

TS = "_ts_ns"
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass
class Finding:
    kind: str
    severity: str
    first_ns: int
    last_ns: int
    who: str
    where: str
    count: int
    detail: str
    example: dict[str, Any] = field(default_factory=dict)
    # what a spread-out attack saw: addresses, accounts, window, ratio... (empty for single-record findings)
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = {"kind": self.kind, "severity": self.severity, "first": format_ns(self.first_ns),
               "last": format_ns(self.last_ns), "who": self.who, "where": self.where, "count": self.count,
               "detail": self.detail, "example": self.example}
        if self.evidence:
            out["evidence"] = self.evidence
        return out

    def __str__(self) -> str:
        span = format_ns(self.first_ns, 0)
        if self.last_ns != self.first_ns:
            span += f" .. {format_ns(self.last_ns, 0)}"
        return (f"[{self.severity}] {self.kind}: {self.who or '-'} from {self.where or '-'} x{self.count} "
                f"({span}): {self.detail}")


def record_ns(record: Mapping[str, Any]) -> int:
    """A record's time in Unix nanoseconds (``_ts_ns``, else its ``timestamp``; 0 when it has neither)."""
    if isinstance(record.get(TS), int):
        return record[TS]
    stamp = record.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return int(stamp)
    if isinstance(stamp, str):
        try:
            return parse_time(stamp, 0)
        except TimeRangeError:
            return 0
    return 0


def example(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as shown in a finding: without the internal ``_ts_ns``."""
    return {k: v for k, v in record.items() if k != TS}


def listed(values: Sequence[str], limit: int = 5) -> str:
    """'a, b, c' of the first ``limit`` values, with '+N more' when there are more."""
    shown = ", ".join(values[:limit])
    return shown + (f" +{len(values) - limit} more" if len(values) > limit else "")
