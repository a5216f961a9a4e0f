"""The one client tracklog's commands use to read from Loki: query_range with paging, instant queries, labels.

Credentials come from the environment variables tracklog.yaml names (never printed); every failure names the
Loki URL and what it answered. With ``endpoints.loki.tenants``, :func:`reader_for` reads the tenants that hold the
log types asked for, merged in time order (Loki 2.2 cannot query several tenants at once).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from provisioning.config import Config
from provisioning.errors import TracklogError

MAX_PAGE = 5000  # Loki's default max_entries_limit_per_query


class LokiQueryError(TracklogError):
    """Loki could not be asked, or refused the query; the message says which URL and why."""


@dataclass(frozen=True)
class Entry:
    timestamp_ns: int
    line: str
    labels: dict[str, str]


class LokiReader:
    """Read one tenant of the Loki tracklog.yaml names.

    Args:
        tenant: the X-Scope-OrgID; default ``endpoints.loki.tenant`` ("" sends none). Use :func:`reader_for` to
            read the tenant(s) of given log types.
    """

    def __init__(self, config: Config, timeout: float = 60.0, tenant: str | None = None) -> None:
        loki = config.endpoints.loki
        self.url = loki.url
        self.tenant = loki.tenant if tenant is None else tenant
        self.timeout = timeout
        self.session = requests.Session()
        self.session.verify = loki.verify_tls
        if self.tenant:
            self.session.headers["X-Scope-OrgID"] = self.tenant
        auth, token = loki.credentials()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.auth = auth

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self.session.get(self.url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise LokiQueryError(f"Loki at {self.url} is unreachable ({type(exc).__name__}); is it running? "
                                 "(`tracklog stack status`, or endpoints.loki.url in tracklog.yaml)") from exc
        if answer.status_code != 200:
            raise LokiQueryError(f"Loki at {self.url}{self._of_tenant()} answered {answer.status_code} to {path}: "
                                 f"{answer.text.strip()[:400]}")
        return answer.json()

    def _of_tenant(self) -> str:
        return f" (tenant {self.tenant})" if self.tenant else ""

    def query_range(self, query: str, start_ns: int, end_ns: int, limit: int = MAX_PAGE,
                    direction: str = "forward", step: str | None = None) -> dict[str, Any]:
        """The raw `data` of one query_range call."""
        if end_ns <= start_ns:
            raise LokiQueryError(f"the time range is empty or reversed (start {start_ns} >= end {end_ns})")
        params: dict[str, Any] = {"query": query, "start": start_ns, "end": end_ns, "limit": limit,
                                  "direction": direction}
        if step:
            params["step"] = step
        return self._get("/loki/api/v1/query_range", params)["data"]

    def entries(self, query: str, start_ns: int, end_ns: int, page: int = MAX_PAGE) -> Iterator[Entry]:
        """Every entry in [start, end), oldest first, paging forward through Loki's per-query limit.

        Entries sharing the page's last timestamp are fetched again on the next page and skipped there, so a page
        boundary inside a run of equal timestamps neither loses nor repeats a line. The next page is requested as
        soon as its start is known, while the caller works through the current one, so Loki's time and the
        caller's overlap (archive and audit verify were each the sum of the two).
        """
        cursor = start_ns
        seen_at_cursor: set[tuple[str, str]] = set()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-page")
        try:
            pending = pool.submit(self.query_range, query, cursor, end_ns, page)
            while True:
                data = pending.result()
                rows = sorted(
                    ((int(ts), line, stream["stream"]) for stream in data["result"] for ts, line in stream["values"]),
                    key=lambda r: (r[0], _key(r[2]), r[1]),  # never compare the label dicts themselves
                )
                fresh = [r for r in rows if not (r[0] == cursor and (_key(r[2]), r[1]) in seen_at_cursor)]
                more = len(rows) >= page
                if more:
                    last = rows[-1][0]
                    if last == cursor and not fresh:
                        raise LokiQueryError(f"more than {page} lines share timestamp {cursor}; raise the page size")
                    seen_at_cursor = {(_key(r[2]), r[1]) for r in rows if r[0] == last} | (
                        seen_at_cursor if last == cursor else set())
                    cursor = last
                    if cursor < end_ns:
                        pending = pool.submit(self.query_range, query, cursor, end_ns, page)
                    else:
                        more = False
                for ts, line, labels in fresh:
                    yield Entry(ts, line, labels)
                if not more:
                    return
        finally:  # a caller that stops early does not wait for a page it will not read
            pool.shutdown(wait=False, cancel_futures=True)

    def instant(self, query: str, at_ns: int | None = None) -> list[dict[str, Any]]:
        return self._get("/loki/api/v1/query", {"query": query, "time": at_ns or time.time_ns()})["data"]["result"]

    def series(self, selector: str, start_ns: int, end_ns: int) -> list[dict[str, str]]:
        return self._get("/loki/api/v1/series", {"match[]": selector, "start": start_ns, "end": end_ns})["data"]


class TenantsReader:
    """Several tenants read as one: the same methods as :class:`LokiReader`, each tenant's answers merged."""

    def __init__(self, readers: Iterable[LokiReader]) -> None:
        self.readers = list(readers)
        self.url = self.readers[0].url
        self.tenant = ",".join(r.tenant for r in self.readers)

    def query_range(self, query: str, start_ns: int, end_ns: int, limit: int = MAX_PAGE,
                    direction: str = "forward", step: str | None = None) -> dict[str, Any]:
        """Every tenant's streams (or series) in one ``result``; each tenant answers up to ``limit`` lines."""
        answers = [r.query_range(query, start_ns, end_ns, limit, direction, step) for r in self.readers]
        return {**answers[0], "result": [item for data in answers for item in data["result"]]}

    def entries(self, query: str, start_ns: int, end_ns: int, page: int = MAX_PAGE) -> Iterator[Entry]:
        """Every tenant's entries, merged oldest first (in the order each tenant's are sorted)."""
        return heapq.merge(*(r.entries(query, start_ns, end_ns, page) for r in self.readers),
                           key=lambda e: (e.timestamp_ns, _key(e.labels), e.line))

    def instant(self, query: str, at_ns: int | None = None) -> list[dict[str, Any]]:
        return [item for r in self.readers for item in r.instant(query, at_ns)]

    def series(self, selector: str, start_ns: int, end_ns: int) -> list[dict[str, str]]:
        return [item for r in self.readers for item in r.series(selector, start_ns, end_ns)]


Reader = LokiReader | TenantsReader


def reader_for(config: Config, log_types: Iterable[str] = (), timeout: float = 60.0) -> Reader:
    """A reader of the tenant(s) holding ``log_types`` (every tenant tracklog writes to when none is given).

    Without ``endpoints.loki.tenants`` that is always the one tenant of ``endpoints.loki.tenant``.
    """
    loki = config.endpoints.loki
    wanted = list(log_types)
    tenants = list(dict.fromkeys(loki.tenant_for(t) for t in wanted)) if wanted else list(loki.tenant_ids)
    if len(tenants) == 1:
        return LokiReader(config, timeout, tenant=tenants[0])
    return TenantsReader(LokiReader(config, timeout, tenant=t) for t in tenants)


def _key(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
