"""tracklog logs / trace / errors / report against the real Loki, over records pushed here through the exporters."""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from exporters import LokiHandler, schema
from provisioning import cli
from provisioning.commands import errors, logs, report, trace
from tests.integration.conftest import ROOT, loki_lines, wait_for

COMMANDS = {"logs": logs, "trace": trace, "errors": errors, "report": report}


def unique(name: str) -> str:
    return f"it-ts-{name}-{time.time_ns() % 10**10}"


@pytest.fixture
def tracklog(loki_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., argparse.Namespace]:
    """Parse a tracklog command line with the troubleshooting commands registered, pointed at the stack's Loki."""
    monkeypatch.setenv("TRACKLOG_LOKI_URL", loki_url)
    for name, module in COMMANDS.items():
        monkeypatch.setitem(cli.COMMANDS, name, module)

    def parse(*argv: str) -> argparse.Namespace:
        return cli.build_parser().parse_args(["--config", str(ROOT / "tracklog.yaml"), *argv])

    return parse


@pytest.fixture
def emit(loki_url: str) -> Iterator[Callable[[str], logging.Logger]]:
    """A logger per service, each behind its own LokiHandler; flushed and closed at the end."""
    handlers: list[LokiHandler] = []

    def logger(service: str) -> logging.Logger:
        handler = LokiHandler(loki_url, service=service, env="test", batch_max_wait=0.1)
        handlers.append(handler)
        log = logging.getLogger(f"tests.troubleshoot.{service}")
        log.handlers[:] = [handler]
        log.setLevel(logging.DEBUG)
        log.propagate = False
        return log

    yield logger
    for handler in handlers:
        handler.close()


def flush(log: logging.Logger) -> None:
    for handler in log.handlers:
        assert handler.client.flush(10)  # type: ignore[attr-defined]


def arrived(loki_url: str, service: str, count: int) -> None:
    wait_for(lambda: len(loki_lines(loki_url, f'{{service="{service}"}}')) >= count, what=f"{count} from {service}")


def run_json(args: argparse.Namespace, capsys: pytest.CaptureFixture[str]) -> object:
    assert args.run(args) == 0
    return json.loads(capsys.readouterr().out)


class OrderMissing(LookupError):
    pass


def find_order(order_id: str, user: int) -> None:
    raise OrderMissing(f"order {order_id} not found for user {user}")


def test_logs_filters_by_labels_error_type_trace_and_text(tracklog, emit, loki_url: str, capsys) -> None:
    service = unique("logs")
    log = emit(service)
    schema.http_request(log, route="/orders/{id}", method="GET", status=200, duration_s=0.01, trace_id="a" * 32)
    for order in ("o-1", "o-2"):
        try:
            find_order(order, 1)
        except OrderMissing as exc:
            schema.error(log, exc, trace_id="b" * 32)
    schema.login_attempt(log, user_id="u-9", outcome="failure", client_address="192.0.2.1", reason="bad_password")
    flush(log)
    arrived(loki_url, service, 4)

    rows = run_json(tracklog("logs", "-s", service, "--since", "10m", "-o", "json"), capsys)
    assert len(rows) == 4
    assert next(r["record"]["message"] for r in rows).startswith("GET /orders/{id} 200")
    assert rows[0]["labels"]["service"] == service
    assert rows[0]["time"].endswith("Z")

    errs = run_json(tracklog("logs", "-s", service, "--level", "error", "-o", "json"), capsys)
    assert [r["record"]["error.type"] for r in errs] == ["OrderMissing", "OrderMissing"]
    assert run_json(tracklog("logs", "-s", service, "--error-code", "OrderMissing", "-o", "json"), capsys) == errs
    assert run_json(tracklog("logs", "-s", service, "--error-code", "Order", "-o", "json"), capsys) == []
    assert run_json(tracklog("logs", "-s", service, "--trace-id", "b" * 32, "-o", "json"), capsys) == errs
    security = run_json(tracklog("logs", "-s", service, "-t", "security", "-o", "json"), capsys)
    assert [r["record"]["auth.reason"] for r in security] == ["bad_password"]
    text = run_json(tracklog("logs", "-s", service, "--text", "o-2", "-o", "json"), capsys)
    assert [r["record"]["error.message"] for r in text] == ["order o-2 not found for user 1"]
    newest = run_json(tracklog("logs", "-s", service, "--limit", "2", "-o", "json"), capsys)
    assert newest == rows[2:]

    args = tracklog("logs", "-s", service)
    assert args.run(args) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["time", "service", "level", "log_type", "message", "trace"]
    assert table[1].split()[1:4] == [service, "info", "application"]
    assert table[1].endswith("aaaaaaaa")


def test_follow_prints_records_pushed_while_it_runs_once_each(tracklog, emit, loki_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    service = unique("follow")
    log = emit(service)
    log.info("before following")
    flush(log)
    arrived(loki_url, service, 1)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    args = tracklog("logs", "-s", service, "--since", "5m", "--follow", "-o", "json")
    args.stop = threading.Event()
    result: list[int] = []

    def messages() -> list[str]:
        return [json.loads(line)["record"]["message"] for line in out.getvalue().splitlines()]

    runner = threading.Thread(target=lambda: result.append(args.run(args)), daemon=True)
    runner.start()
    try:
        wait_for(lambda: "before following" in messages(), what="the existing record")
        log.info("pushed while following")
        flush(log)
        wait_for(lambda: "pushed while following" in messages(), what="the record pushed while following")
        log.info("and one more")
        flush(log)
        wait_for(lambda: "and one more" in messages(), what="a second record pushed while following")
    finally:
        args.stop.set()
        runner.join(10)
    assert result == [0]
    assert messages() == ["before following", "pushed while following", "and one more"]  # in order, no repeats


def test_trace_orders_records_of_two_services_with_gaps_durations_and_the_culprit(tracklog, emit, loki_url: str,
                                                                                   capsys) -> None:
    web, api = unique("web"), unique("api")
    trace_id, request_id = uuid.uuid4().hex, "req-it-1"
    web_log, api_log = emit(web), emit(api)
    ids = {"trace_id": trace_id, "request_id": request_id}
    schema.user_action(web_log, user_id="u-77", action="open_map", trace_id=trace_id, **{"request.id": request_id})
    flush(web_log)
    time.sleep(0.005)  # distinct timestamps, so the order under test is the order of events
    schema.db_query(api_log, statement="SELECT * FROM couriers WHERE id = 5", duration_s=1.5, timed_out=True,
                    trace_id=trace_id, **{"request.id": request_id})
    try:
        find_order("o-5", 77)
    except OrderMissing as exc:
        schema.error(api_log, exc, trace_id=trace_id, **{"request.id": request_id})
    schema.http_request(api_log, route="/orders/{id}/track", method="GET", status=504, duration_s=1.6, **ids)
    flush(api_log)
    time.sleep(0.005)
    schema.http_request(web_log, route="/api/orders/{id}/map", method="GET", status=502, duration_s=1.7,
                        user_id="u-77", **ids)
    flush(web_log)
    arrived(loki_url, web, 2)
    arrived(loki_url, api, 3)

    found = run_json(tracklog("trace", trace_id, "--since", "10m", "-o", "json"), capsys)
    records = found["records"]
    assert [r["service"] for r in records] == [web, api, api, api, web]
    assert found["services"] == [web, api]
    assert records[0]["offset_ms"] == 0
    assert all(r["gap_ms"] >= 0 for r in records)
    assert [r["offset_ms"] for r in records] == sorted(r["offset_ms"] for r in records)
    assert records[-1]["offset_ms"] == pytest.approx(found["span_ms"])
    assert [r["duration_ms"] for r in records] == [None, 1500.0, None, 1600.0, 1700.0]
    assert records[2]["function"] == "find_order"
    assert found["users"] == ["u-77"]
    assert found["requests"] == [request_id]
    assert any("OrderMissing" in f and "find_order" in f and "user u-77 (open_map)" in f for f in found["failures"])

    args = tracklog("trace", trace_id[:12])  # a short id, as `tracklog logs` shows them; as text
    assert args.run(args) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"trace {trace_id}: 5 records")
    assert "failed:" in text
    assert "find_order (" in text


def test_errors_group_messages_differing_in_an_id_and_name_the_co_occurring_service(tracklog, emit, loki_url: str,
                                                                                    capsys) -> None:
    api, db = unique("errapi"), unique("errdb")
    api_log, db_log = emit(api), emit(db)
    # api, db, db, api: each DB timeout falls in the minute of one of the API errors.
    for order, user in (("o-12345", 42), ("", 0), ("", 0), ("o-678", 7)):
        if not order:
            schema.db_query(db_log, statement="SELECT * FROM orders WHERE id = 1", duration_s=3.0, timed_out=True)
        else:
            try:
                find_order(order, user)
            except OrderMissing as exc:
                schema.error(api_log, exc)
        time.sleep(0.002)  # distinct timestamps, in this order
    flush(api_log)
    flush(db_log)
    arrived(loki_url, api, 2)
    arrived(loki_url, db, 2)

    groups = run_json(tracklog("errors", "--since", "10m", "-s", api, "-o", "json"), capsys)
    (group,) = groups
    assert (group["kind"], group["function"], group["count"]) == ("OrderMissing", "find_order", 2)
    assert group["template"] == "order o-<num> not found for user <num>"
    assert group["services"] == {api: 2}
    assert group["first_seen"] <= group["last_seen"]
    assert group["example"]["message"].startswith("OrderMissing: order o-678")
    nearby = {c["service"]: c for c in group["co_occurring"]}
    assert nearby[db]["errors"] == 2
    assert nearby[db]["top"] == "DB timeout: db SELECT timed out after <num>ms"

    args = tracklog("errors", "--since", "10m", "-s", api)
    assert args.run(args) == 0
    text = capsys.readouterr().out
    assert "order o-<num> not found for user <num>" in text
    assert "alongside, in its 1 min: " in text or "alongside, in its 2 min: " in text
    assert "[1] " in text


def test_report_computes_exact_percentiles_by_route_hour_and_query(tracklog, emit, loki_url: str, capsys) -> None:
    service = unique("perf")
    log = emit(service)
    durations = [round(0.001 * ((i * 37) % 101 + 1), 6) for i in range(120)]
    for seconds in durations:
        schema.http_request(log, route="/it/{id}", method="GET", status=200, duration_s=seconds)
    schema.http_request(log, route="/it/slow", method="POST", status=200, duration_s=2.0)
    for i in range(20):
        schema.db_query(log, statement=f"SELECT * FROM t WHERE id = {i}", duration_s=0.01 * (i + 1))
    flush(log)
    arrived(loki_url, service, 141)

    result = run_json(tracklog("report", "performance", "-s", service, "--since", "1h", "-o", "json"), capsys)
    routes = {r["key"]: r for r in result["routes"]}
    expected = statistics.quantiles(durations, n=100, method="inclusive")
    assert routes["/it/{id}"]["count"] == 120
    assert routes["/it/{id}"]["p50_ms"] == pytest.approx(expected[49] * 1000)
    assert routes["/it/{id}"]["p95_ms"] == pytest.approx(expected[94] * 1000)
    assert routes["/it/{id}"]["p99_ms"] == pytest.approx(expected[98] * 1000)
    assert [r["key"] for r in result["routes"]] == ["/it/slow", "/it/{id}"]
    assert sum(h["count"] for h in result["hours_of_day"]) == 121
    assert result["peaks"][0]["count"] >= 61
    (query,) = result["db_queries"]
    assert query["summary"]["key"] == "SELECT * FROM t WHERE id = ?"
    assert query["summary"]["count"] == 20
    assert query["summary"]["p95_ms"] == pytest.approx(statistics.quantiles(
        [0.01 * (i + 1) for i in range(20)], n=100, method="inclusive")[94] * 1000)

    args = tracklog("report", "performance", "-s", service, "--since", "1h", "-o", "csv")
    assert args.run(args) == 0
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0] == "section,key,count,p50_ms,p95_ms,p99_ms,max_ms,timeouts"
    assert any(line.startswith("route,/it/{id},120,") for line in csv_lines)


@pytest.mark.parametrize("argv", [["logs"], ["trace", "abc"], ["errors"], ["report", "performance"]])
def test_an_unreachable_loki_is_one_line_naming_the_url_and_exit_1(argv: list[str], monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRACKLOG_LOKI_URL", "http://127.0.0.1:9")
    for name, module in COMMANDS.items():
        monkeypatch.setitem(cli.COMMANDS, name, module)
    assert cli.main(["--config", str(ROOT / "tracklog.yaml"), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "Loki at http://127.0.0.1:9 is unreachable" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--from", "1h", "--to", "2h"], "the time range is empty or reversed"),
    (["--since", "yesterday"], "--since: 'yesterday' is not a duration"),
    (["--from", "2026-02-30T00:00:00Z"], "--from '2026-02-30T00:00:00Z' is not a time"),
])
def test_a_bad_time_range_is_one_line_and_exit_1(argv: list[str], message: str, tracklog, capsys) -> None:
    assert cli.main(["--config", str(ROOT / "tracklog.yaml"), "logs", *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message in err
    assert err.startswith("tracklog logs: ")


def test_logs_latency_over_one_day(tracklog, capsys) -> None:
    """Time `tracklog logs --since 1d` over whatever Loki holds (the demo's and benchmarks' records)."""
    timings = {}
    for label, extra in (("newest 100", []), ("newest 5000", ["--limit", "5000"]),
                         ("level=error, all", ["--level", "error", "--limit", "0"]),
                         ("text, scan all", ["--text", "no-such-text-anywhere", "--limit", "0"])):
        args = tracklog("logs", "--since", "1d", "-o", "json", *extra)
        started = time.perf_counter()
        assert args.run(args) == 0
        timings[label] = (time.perf_counter() - started, len(json.loads(capsys.readouterr().out)))
    with capsys.disabled():
        print("\ntracklog logs --since 1d: "
              + "; ".join(f"{k}: {t:.2f}s ({n} entries)" for k, (t, n) in timings.items()))
    assert timings["newest 100"][0] < 10
