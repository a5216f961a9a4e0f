"""How far back people query each log type, from Loki's query log (``metrics.go`` lines at level info).

Loki 2.2 logs every query it runs with ``query="..."`` and ``length=`` (end - start, a Go duration); how far back a
query reached is taken as its length plus the longest range in it (``[5m]``), as queries end at about "now".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
_RANGE = re.compile(r"\[(\d+(?:ms|s|m|h|d|w|y))\]")
_LOG_TYPE = re.compile(r'log_type\s*(=~|=)\s*\\?"((?:[^"\\]|\\.)*?)\\?"')
_PROM_UNIT = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}


def go_duration(text: str) -> float | None:
    """Seconds in a Go duration (``720h0m0s``, ``1.5s``); None if it is not one."""
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def _longest_range(query: str) -> float:
    ranges = [float(m[:-2]) * _PROM_UNIT["ms"] if m.endswith("ms") else float(m[:-1]) * _PROM_UNIT[m[-1]]
              for m in _RANGE.findall(query)]
    return max(ranges, default=0.0)


def log_types(query: str, known: Iterable[str]) -> set[str]:
    """The log types a query's selectors name (every known one when it names none)."""
    names = set(known)
    found: set[str] = set()
    for op, value in _LOG_TYPE.findall(query):
        found |= ({value} if op == "=" else {t for t in names if re.fullmatch(value, t)})
    return found or names


@dataclass(frozen=True)
class Lookback:
    queries: int
    max_seconds: float
    p99_seconds: float


def read(lines: Iterable[str], known: Iterable[str]) -> dict[str, Lookback]:
    """Per log type, how many queries read it and how far back they reached."""
    known = tuple(known)
    reach: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        if "query=" not in line or "length=" not in line:
            continue
        fields = {k: v[1:-1].replace('\\"', '"') if v.startswith('"') else v for k, v in _FIELD.findall(line)}
        length = go_duration(fields.get("length", ""))
        query = fields.get("query", "")
        if length is None or not query:
            continue
        back = length + _longest_range(query)
        for log_type in log_types(query, known):
            reach[log_type].append(back)
    out = {}
    for log_type, values in reach.items():
        ordered = sorted(values)
        out[log_type] = Lookback(len(ordered), ordered[-1], ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))])
    return out
