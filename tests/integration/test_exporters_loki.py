"""exporters against the real Loki: every log type arrives, outages lose nothing, failures are retried or counted."""

from __future__ import annotations

import http.server
import json
import logging
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from exporters import LokiHandler, schema
from exporters.loki import Backoff
from provisioning.stack import Stack
from tests.integration.conftest import loki_lines, loki_query_range, wait_for

ROOT = Path(__file__).resolve().parents[2]
FAST = Backoff(min_seconds=0.1, max_seconds=1.0)


def unique(name: str) -> str:
    return f"it-{name}-{time.time_ns() % 10**10}"


def make_logger(service: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"tests.{service}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_records_of_every_type_arrive_with_labels_and_body(loki_url: str, encoding: str, tmp_path) -> None:
    service = unique("types")
    handler = LokiHandler(loki_url, service=service, env="test", encoding=encoding, batch_max_wait=0.2)
    log = make_logger(service, handler)
    schema.http_request(log, route="/orders/{id}", method="GET", status=200, duration_s=0.012,
                        path="/orders/42", client_address="198.51.100.7", **{schema.ORDER_ID: "o-42"})
    schema.db_query(log, statement="SELECT * FROM couriers WHERE id = 42", duration_s=3.5, timed_out=True)
    schema.login_attempt(log, user_id="u-1", outcome="failure", reason="bad_password",
                         client_address="203.0.113.9", country="BR")
    schema.permission_change(log, actor="u-admin", target="u-7", role="admin", before="viewer", after="admin")
    schema.lifecycle(log, phase="start", version="1.2.3")
    try:
        raise TimeoutError("courier ingest stalled")
    except TimeoutError as exc:
        schema.error(log, exc)
    assert handler.client.flush(10)

    def of_type(log_type: str) -> list[dict]:
        return [json.loads(line) for line in loki_lines(loki_url, f'{{service="{service}", log_type="{log_type}"}}')]

    application = wait_for(lambda: len(of_type("application")) == 3 and of_type("application"), what="application")
    assert {r["event.name"] for r in application} == {"http.request", "db.query", "error"}
    security = of_type("security")
    assert security[0]["auth.outcome"] == "failure"
    assert security[0]["client.geo.country_iso_code"] == "BR"
    assert of_type("audit")[0]["audit.after"] == "admin"
    assert of_type("system")[0]["service.lifecycle"] == "start"

    streams = loki_query_range(loki_url, f'{{service="{service}"}}')
    for stream in streams:
        assert set(stream["stream"]) == {"service", "env", "log_type", "level"}  # nothing high-cardinality
        assert stream["stream"]["env"] == "test"

    failed = loki_lines(loki_url, f'{{service="{service}", log_type="security"}} | json | auth_outcome="failure"')
    assert len(failed) == 1
    slow = loki_lines(loki_url, f'{{service="{service}"}} | json | db_query_timeout="true"')
    assert json.loads(slow[0])["db.query.text"] == "SELECT * FROM couriers WHERE id = ?"
    errors = loki_lines(loki_url, f'{{service="{service}", level="error"}} | json | error_type="TimeoutError"')
    assert json.loads(errors[0])["code.function"] == "test_records_of_every_type_arrive_with_labels_and_body"
    handler.close()


def test_a_loki_outage_loses_nothing_and_duplicates_nothing(stack: Stack, loki_url: str, tmp_path) -> None:
    (loki,) = stack.status(["loki"])
    if loki.pid is None:
        pytest.skip("Loki at this URL was not started by tracklog's stack, so the test cannot stop and restart it")
    service = unique("outage")
    handler = LokiHandler(loki_url, service=service, batch_max_wait=0.2, backoff=FAST,
                          spool_dir=tmp_path / "spool", spool_name=service, buffer_max_bytes=256 * 1024)
    log = make_logger(service, handler)
    sent = 0
    longest_call = 0.0

    def log_for(seconds: float) -> None:
        nonlocal sent, longest_call
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            log.info("tick %d %s", sent, "p" * 200)
            longest_call = max(longest_call, time.perf_counter() - started)
            sent += 1
            time.sleep(0.01)

    log_for(3)
    stack.down(["loki"])
    try:
        log_for(30)  # Loki is down for these 30 seconds; the caller keeps logging
        assert handler.client.stats.spooled > 0, "the queue should have spilled to the disk spool"
    finally:
        stack.up(["loki"])
    log_for(3)
    assert handler.client.flush(30)
    query = f'{{service="{service}"}}'

    def all_arrived() -> list[str]:
        lines = loki_lines(loki_url, query, limit=100_000)
        return lines if len(lines) >= sent else []

    lines = wait_for(all_arrived, timeout=120, interval=1, what=f"{sent} records in Loki")
    numbers = [int(line_json["message"].split()[1]) for line_json in map(json.loads, lines)]
    assert sorted(numbers) == list(range(sent)), "every record exactly once"
    assert sum(handler.client.stats.dropped.values()) == 0
    # A call that waited on the network would take the transport's timeouts (3 s connect / 10 s read) at least.
    assert longest_call < 1.0, f"a log call took {longest_call:.3f}s during the outage"
    handler.close()


class _ScriptedProxy:
    """A real HTTP proxy in front of Loki that answers from a script first (429, 500, ...), then forwards."""

    def __init__(self, loki_url: str, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.answers: list[int] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.script:
                    status, headers = proxy.script.pop(0)
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(b"scripted failure")
                    proxy.answers.append(status)
                    return
                forward = urllib.request.Request(loki_url + self.path, data=body, method="POST", headers={
                    k: v for k, v in self.headers.items() if k.lower() in ("content-type", "content-encoding")})
                try:
                    with urllib.request.urlopen(forward, timeout=10) as answer:
                        status, payload = answer.status, answer.read()
                except urllib.error.HTTPError as err:
                    status, payload = err.code, err.read()
                proxy.answers.append(status)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_429_and_500_are_retried_until_loki_takes_the_batch(loki_url: str) -> None:
    proxy = _ScriptedProxy(loki_url, [(429, {"Retry-After": "1"}), (500, {}), (503, {})])
    service = unique("retry")
    handler = LokiHandler(proxy.url, service=service, batch_max_wait=0.1, backoff=FAST)
    log = make_logger(service, handler)
    for i in range(20):
        log.info("retry %d", i)
    assert handler.client.flush(30)
    lines = wait_for(lambda: loki_lines(loki_url, f'{{service="{service}"}}'), what="retried records")
    assert len(lines) == 20
    assert proxy.answers[:3] == [429, 500, 503]
    assert handler.client.stats.retries == 3
    assert sum(handler.client.stats.dropped.values()) == 0
    handler.close()
    proxy.close()


def test_a_batch_loki_rejects_with_400_is_counted_not_retried_forever(loki_url: str) -> None:
    service = unique("reject")
    # The client would allow 1 MiB lines; this Loki allows 256 KiB, so it answers 400 for this batch. The size
    # comes from many fields, each under the formatter's own limit (a 300 kB message would be shortened first).
    handler = LokiHandler(loki_url, service=service, batch_max_wait=0.1, max_line_bytes=1 << 20)
    log = make_logger(service, handler)
    log.info("many large fields", extra={f"blob.{i}": "x" * 10_000 for i in range(30)})
    assert handler.client.flush(15)
    assert handler.client.stats.dropped["rejected"] == 1
    assert "400" in handler.client.stats.last_error
    log.info("after the rejected one")
    assert handler.client.flush(15)
    lines = wait_for(lambda: loki_lines(loki_url, f'{{service="{service}"}}'), what="the next record")
    assert [json.loads(line)["message"] for line in lines] == ["after the rejected one"]
    handler.close()


def test_an_oversized_line_is_truncated_with_a_marker_and_arrives(loki_url: str) -> None:
    service = unique("truncate")
    handler = LokiHandler(loki_url, service=service, batch_max_wait=0.1)  # client limit = Loki's 256 KiB
    log = make_logger(service, handler)
    # 400 kB of fields, each under the formatter's limit: the whole line is over Loki's, so the client shortens it
    log.info("many large fields", extra={f"blob.{i}": "y" * 10_000 for i in range(40)})
    assert handler.client.flush(15)
    (line,) = wait_for(lambda: loki_lines(loki_url, f'{{service="{service}"}}'), what="the truncated line")
    assert "…[truncated " in line
    assert handler.client.stats.truncated == 1
    handler.close()


class _HungLoki:
    """Accepts connections and reads requests, and never answers until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.requests_seen = 0
        hung = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hung.requests_seen += 1
                hung.release.wait(60)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_hung_loki_neither_blocks_the_caller_nor_hangs_the_exit(tmp_path) -> None:
    hung = _HungLoki()
    try:
        service = unique("hung")
        handler = LokiHandler(hung.url, service=service, batch_max_wait=0.05, flush_timeout=1.0)
        log = make_logger(service, handler)
        log.info("first")
        wait_for(lambda: hung.requests_seen >= 1, what="the sender to reach the hung server")
        for i in range(100):
            log.info("while hung %d", i)  # returns although the server holds the request open
        assert not hung.release.is_set()
        assert hung.requests_seen >= 1
        assert handler.client.stats.accepted == 101
        handler.close()

        script = (
            "import logging, exporters\n"
            f"h = exporters.LokiHandler({hung.url!r}, service='hung-exit', flush_timeout=2.0, batch_max_wait=0.05)\n"
            "log = logging.getLogger('x'); log.addHandler(h); log.setLevel(logging.INFO)\n"
            "for i in range(30): log.info('record %d', i)\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        assert "did not take 30 record(s)" in done.stderr
    finally:
        hung.close()


CORPUS = [
    ("email", "contact anna.schmidt@example.org about order 17", "anna.schmidt@example.org"),
    ("card", "charged card 4539 1488 0343 6467 for 12.50", "4539 1488 0343 6467"),
    ("jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("bearer", "Authorization: Bearer s3cr3tT0kenValue123", "s3cr3tT0kenValue123"),
    ("url password", "connecting to postgres://app:Pa55w0rdX@db:5432/orders", "Pa55w0rdX"),
    ("query key", "GET /v1/track?order=9&api_key=AKIAZZZ999SECRET", "AKIAZZZ999SECRET"),
    ("phone", "courier phone +4915112345678 called", "+4915112345678"),
]


def test_the_redaction_corpus_never_reaches_loki(loki_url: str) -> None:
    service = unique("redact")
    handler = LokiHandler(loki_url, service=service, batch_max_wait=0.1)
    log = make_logger(service, handler)
    for _, message, _ in CORPUS:
        log.warning(message)
    log.info("login", extra={"password": "hunter2-plain", "user.id": "u-5"})
    assert handler.client.flush(10)
    lines = wait_for(lambda: (rows := loki_lines(loki_url, f'{{service="{service}"}}')) and len(rows) == 8 and rows,
                     what="the corpus in Loki")
    everything = "\n".join(lines)
    for kind, _, secret in CORPUS:
        assert secret not in everything, f"{kind} leaked"
    assert "hunter2-plain" not in everything
    assert "u-5" in everything  # not everything is masked: ids that are not secrets stay readable
    handler.close()
