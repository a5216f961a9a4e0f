"""Read a rule's signal over the history: range queries at the rule's interval against Prometheus and Loki.

Long ranges are split into chunks of at most ``CHUNK_POINTS`` evaluations (both servers refuse more than 11,000 points
per series); every request is counted, so the review can say how many queries it made.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from provisioning.config import Config
from provisioning.errors import TracklogError
from provisioning.lokiquery import LokiReader
from provisioning.review.backtest import LabelSet, label_set
from provisioning.timerange import NS

CHUNK_POINTS = 1440  # one day at 1m
Series = dict[LabelSet, list[tuple[float, float]]]


class HistoryError(TracklogError):
    """Prometheus or Loki could not answer a range query; the message names the server and the query."""


class Source(Protocol):
    queries: int

    def range(self, query: str, start: float, end: float, step: float) -> Series: ...


def grid(start: float, end: float, step: float) -> tuple[float, float]:
    """[start, end] moved onto the evaluation grid (multiples of ``step``), as a rule manager's would be."""
    return math.ceil(start / step) * step, math.floor(end / step) * step


def _chunks(start: float, end: float, step: float) -> list[tuple[float, float]]:
    out = []
    at = start
    while at <= end:
        last = min(end, at + (CHUNK_POINTS - 1) * step)
        out.append((at, last))
        at = last + step
    return out


def _merge(into: dict[LabelSet, list[tuple[float, float]]], result: list[dict[str, Any]]) -> None:
    for item in result:
        labels = label_set(item.get("metric") or {})
        into[labels].extend((float(t), float(v)) for t, v in item.get("values", []))


@dataclass
class PrometheusSource:
    url: str
    timeout: float = 60.0
    queries: int = 0
    session: requests.Session = field(default_factory=requests.Session)

    def _get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self.queries += 1
        try:
            answer = self.session.get(self.url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise HistoryError(f"Prometheus at {self.url} is unreachable ({type(exc).__name__}); is it running? "
                               "(`tracklog stack status`, or endpoints.prometheus.url in tracklog.yaml)") from exc
        if answer.status_code != 200:
            raise HistoryError(f"Prometheus at {self.url} answered {answer.status_code} to {path} "
                               f"{params.get('query', '')!r}: {answer.text.strip()[:300]}")
        return answer.json()["data"]

    def range(self, query: str, start: float, end: float, step: float) -> Series:
        out: Series = defaultdict(list)
        for a, b in _chunks(*grid(start, end, step), step):
            _merge(out, self._get("/api/v1/query_range", {"query": query, "start": a, "end": b, "step": step})
                   ["result"])
        return dict(out)

    def rule_names(self) -> set[str] | None:
        """The alert rules this Prometheus has loaded (None if it cannot say)."""
        try:
            groups = self._get("/api/v1/rules", {"type": "alert"})["groups"]
        except HistoryError:
            return None
        return {r["name"] for g in groups for r in g["rules"]}


@dataclass
class LokiSource:
    config: Config
    timeout: float = 120.0
    queries: int = 0
    _readers: dict[str, LokiReader] = field(default_factory=dict)

    def _reader(self, tenant: str | None) -> LokiReader:
        tenant = self.config.endpoints.loki.tenant if tenant is None else tenant
        if tenant not in self._readers:
            self._readers[tenant] = LokiReader(self.config, self.timeout, tenant=tenant)
        return self._readers[tenant]

    def range(self, query: str, start: float, end: float, step: float, align: bool = True,
              tenant: str | None = None) -> Series:
        """``align``: evaluate on multiples of ``step`` as a ruler would; else at start, start + step, ... end.
        ``tenant``: the Loki tenant to read (default: endpoints.loki.tenant)."""
        reader = self._reader(tenant)
        out: Series = defaultdict(list)
        for a, b in _chunks(*(grid(start, end, step) if align else (start, end)), step):
            self.queries += 1
            try:
                data = reader.query_range(query, int(a * NS), int(max(b, a + 0.001) * NS), step=f"{step:g}s")
            except TracklogError as exc:
                raise HistoryError(str(exc)) from None
            _merge(out, data["result"])
        return dict(out)
