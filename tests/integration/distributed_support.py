"""Shared by the distributed-topology tests: the stack fixture, steady loggers, and an exact count read back."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from provisioning import config as config_module
from provisioning.stack.distributed import DistributedStack

LOAD = Path(__file__).with_name("distributed_load.py")


@pytest.fixture(scope="session", name="distributed")
def distributed_fixture(tracklog_config: config_module.Config) -> Iterator[DistributedStack]:
    """The distributed topology, reused when running, else started here and stopped (what was started) after."""
    stack = DistributedStack(tracklog_config, ready_timeout=180)
    already = {s.name for s in stack.status() if s.healthy and s.pid is not None}
    stack.up()
    yield stack
    started_here = [s.name for s in stack.servers if s.name not in already]
    if started_here:
        stack.down(started_here)


def push_probe(url: str, service: str = "fault-probe") -> requests.Response:
    """One push of one line straight to the distributor: its answer is the distributor's verdict right now."""
    body = {"streams": [{"stream": {"service": service, "env": "faulttest"},
                         "values": [[str(time.time_ns()), f"probe {time.time_ns()}"]]}]}
    return requests.post(f"{url}/loki/api/v1/push", json=body, timeout=30)


def kill(stack: DistributedStack, name: str) -> int:
    pid = stack.pid(name)
    assert pid is not None, f"{name} is not running as this stack's process"
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and "zombie" not in _proc_state(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


@dataclass
class Loggers:
    """Several services logging through `exporters` at a steady rate, each in its own process."""

    push_url: str
    run: str
    workdir: Path
    services: tuple[str, ...] = ("fault-a", "fault-b", "fault-c")
    rate: float = 700.0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def stop_file(self) -> Path:
        return self.workdir / "stop"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            log = (self.workdir / f"{service}.log").open("wb")
            self.processes[service] = subprocess.Popen(
                [sys.executable, str(LOAD), "--url", self.push_url, "--service", service, "--run", self.run,
                 "--rate", str(self.rate), "--stop-file", str(self.stop_file),
                 "--out", str(self.workdir / f"{service}.json"), "--spool-dir", str(self.workdir / "spool")],
                stdout=log, stderr=subprocess.STDOUT,
            )

    def stop(self, timeout: float = 400) -> dict[str, dict[str, Any]]:
        """Tell every logger to stop, wait until each has delivered (or given up) and exited; their summaries."""
        self.stop_file.touch()
        summaries = {}
        for service, process in self.processes.items():
            code = process.wait(timeout=timeout)
            output = (self.workdir / f"{service}.log").read_text(errors="replace")
            assert code == 0, f"{service} logger exited {code}:\n{output[-2000:]}"
            summaries[service] = json.loads((self.workdir / f"{service}.json").read_text())
            summaries[service]["output"] = output
        return summaries

    def terminate(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def caller_p99_us(summary: dict[str, Any], start: float, end: float) -> float | None:
    """The 99th percentile of the logging call's duration (µs) for calls made between two wall times."""
    took = [ns / 1000 for wall, ns in zip(summary["wall"], summary["took_ns"], strict=True) if start <= wall < end]
    if len(took) < 100:
        return None
    return statistics.quantiles(took, n=100)[98]


def read_all(read_url: str, query: str, start_ns: int, end_ns: int, page: int = 20000) -> list[tuple[int, str]]:
    """Every (timestamp, line) the query returns in [start, end), paging forward through the query frontend.

    A page ends inside a timestamp's lines at most; the next page starts at that timestamp again, and the lines of
    that timestamp already taken are skipped (they are identical entries, which Loki itself returns once).
    """
    out: list[tuple[int, str]] = []
    cursor = start_ns
    seen_at_cursor: set[str] = set()
    while True:
        response = requests.get(
            f"{read_url}/loki/api/v1/query_range",
            params={"query": query, "start": cursor, "end": end_ns, "limit": page, "direction": "forward"},
            timeout=120,
        )
        assert response.status_code == 200, f"{response.status_code} {response.text[:500]}"
        rows = sorted((int(ts), line) for stream in response.json()["data"]["result"] for ts, line in stream["values"])
        fresh = [(ts, line) for ts, line in rows if not (ts == cursor and line in seen_at_cursor)]
        out.extend(fresh)
        if len(rows) < page:
            return out
        last = rows[-1][0]
        if last != cursor:
            seen_at_cursor = set()
        cursor = last
        seen_at_cursor |= {line for ts, line in rows if ts == last}
        if not fresh:
            raise AssertionError(f"a page of {page} lines all at {last}; raise the page size")
