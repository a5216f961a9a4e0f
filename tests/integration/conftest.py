"""Session fixtures: the real stack on 127.0.0.1, reused when running, else started here and stopped after."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from provisioning import config as config_module
from provisioning.stack import Stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tracklog_config() -> config_module.Config:
    return config_module.load(ROOT / "tracklog.yaml")


@pytest.fixture(scope="session")
def stack(tracklog_config: config_module.Config) -> Iterator[Stack]:
    stack = Stack(tracklog_config, ready_timeout=180)
    already = {s.name for s in stack.status() if s.healthy}
    stack.up()
    yield stack
    started_here = [s.name for s in stack.servers if s.name not in already]
    if started_here:
        stack.down(started_here)


@pytest.fixture(scope="session")
def loki_url(stack: Stack) -> str:
    return next(s.url for s in stack.servers if s.name == "loki")


@pytest.fixture(scope="session")
def prometheus_url(stack: Stack) -> str:
    return next(s.url for s in stack.servers if s.name == "prometheus")


@pytest.fixture(scope="session")
def alertmanager_url(stack: Stack) -> str:
    return next(s.url for s in stack.servers if s.name == "alertmanager")


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.25, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def loki_query_range(loki_url: str, query: str, since_s: float = 600, limit: int = 5000, **params: Any) -> list[dict]:
    end = time.time_ns()
    response = requests.get(
        f"{loki_url}/loki/api/v1/query_range",
        params={"query": query, "start": end - int(since_s * 1e9), "end": end + 1_000_000_000, "limit": limit,
                "direction": "forward", **params},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["data"]["result"]


def loki_lines(loki_url: str, query: str, **kw: Any) -> list[str]:
    rows = [(int(ts), line) for stream in loki_query_range(loki_url, query, **kw) for ts, line in stream["values"]]
    return [line for _, line in sorted(rows)]


def prometheus_query(prometheus_url: str, query: str) -> list[dict]:
    response = requests.get(f"{prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]["result"]


class WebhookReceiver:
    """A real HTTP server that records JSON bodies POSTed to it (Alertmanager's webhook receiver)."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[dict] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def scrape_target_dir(stack: Stack) -> Path:
    """Drop file_sd JSON here to make Prometheus scrape a target."""
    path = stack.paths.of("prometheus") / "targets"
    path.mkdir(parents=True, exist_ok=True)
    return path
