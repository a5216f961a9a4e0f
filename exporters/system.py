"""System logs: a service's start-up and shutdown, and periodic resource-usage samples (also fed to metrics)."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from dataclasses import dataclass

from exporters import schema

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Usage:
    cpu: float  # fraction of one core since the previous sample
    memory_bytes: int
    open_files: int
    threads: int


class UsageSampler:
    """Reads this process's usage from /proc (Linux) or the stdlib elsewhere; no third-party dependency."""

    def __init__(self) -> None:
        self._last_cpu = time.process_time()
        self._last_wall = time.monotonic()

    def sample(self) -> Usage:
        cpu_now, wall_now = time.process_time(), time.monotonic()
        cpu = (cpu_now - self._last_cpu) / max(wall_now - self._last_wall, 1e-6)
        self._last_cpu, self._last_wall = cpu_now, wall_now
        return Usage(cpu=max(cpu, 0.0), memory_bytes=_rss(), open_files=_open_files(), threads=_threads())


class SystemReporter:
    """Log ``service.start`` now, a usage sample every ``interval`` seconds, and ``service.stop`` at exit.

    Use ``SystemReporter(logger).start()`` once per process, after logging is configured.
    """

    def __init__(
        self, logger: logging.Logger | None = None, interval: float = 15.0, version: str | None = None
    ) -> None:
        self.logger = logger or logging.getLogger("tracklog.system")
        self.interval = interval
        self.version = version
        self.sampler = UsageSampler()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SystemReporter:
        schema.lifecycle(self.logger, phase="start", version=self.version, **{"process.pid": os.getpid()})
        self._thread = threading.Thread(target=self._run, name="tracklog-usage", daemon=True)
        self._thread.start()
        atexit.register(self.stop)
        return self

    def sample_once(self) -> Usage:
        usage = self.sampler.sample()
        schema.resource_usage(self.logger, cpu=usage.cpu, memory_bytes=usage.memory_bytes,
                              open_files=usage.open_files, threads=usage.threads)
        return usage

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        schema.lifecycle(self.logger, phase="stop", version=self.version, **{"process.pid": os.getpid()})

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample_once()
            except Exception:  # a sampling failure must never kill the service
                logging.getLogger("tracklog.internal").debug("usage sample failed", exc_info=True)


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _open_files() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def _threads() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return threading.active_count()
