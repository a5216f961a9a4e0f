"""A simulated PostgreSQL for tracking-api: a connection pool, realistic latencies, a statement timeout."""

from __future__ import annotations

import logging
import random
import threading
import time

from demo.incidents import DbSlowdown
from exporters import schema


class QueryTimeout(Exception):
    """The server cancelled the statement (PostgreSQL: ``canceling statement due to statement timeout``)."""


class PoolExhausted(Exception):
    """No connection became free in time."""


class Database:
    """Each ``execute`` holds a pooled connection for the query's latency and logs it with ``schema.db_query``.

    Latency is log-normal around each statement's median; during a :class:`DbSlowdown` it grows up to ~100x, so
    queries hit the statement timeout and slow queries hold connections until the pool runs dry.
    """

    def __init__(self, logger: logging.Logger, slowdown: DbSlowdown | None = None, pool_size: int = 10,
                 statement_timeout: float = 1.5, acquire_timeout: float = 1.0, seed: int | None = None) -> None:
        self.logger = logger
        self.slowdown = slowdown
        self.pool_size = pool_size
        self.statement_timeout = statement_timeout
        self.acquire_timeout = acquire_timeout
        self._pool = threading.BoundedSemaphore(pool_size)
        self._rng = random.Random(seed)

    def latency(self, median_s: float) -> float:
        severity = self.slowdown.severity() if self.slowdown else 0.0
        return median_s * (1.0 + 100.0 * severity**2) * self._rng.lognormvariate(0.0, 0.5 + 0.2 * severity)

    def execute(self, statement: str, params: tuple[object, ...] = (), median_s: float = 0.006) -> None:
        """Run a parameterised statement (``$1``, ``$2``); the log carries its shape, never the parameters."""
        if not self._pool.acquire(timeout=self.acquire_timeout):
            raise PoolExhausted(f"no free connection after {self.acquire_timeout:.1f}s (pool size {self.pool_size})")
        try:
            duration = self.latency(median_s)
            timed_out = duration >= self.statement_timeout
            duration = min(duration, self.statement_timeout)
            time.sleep(duration)
            schema.db_query(self.logger, statement=statement, duration_s=duration, timed_out=timed_out,
                            **{"db.namespace": "tracking", "server.address": "pg-tracking-1"})
            if timed_out:
                raise QueryTimeout("canceling statement due to statement timeout")
        finally:
            self._pool.release()
