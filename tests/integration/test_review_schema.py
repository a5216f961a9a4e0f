"""`tracklog review schema` against the real Loki 2.2.1: a service made to misbehave in the last hour (ids in its
route, a required field dropped, a new field, a made-up log type, a per-request label, its system log gone quiet)
is reported for each, with exit 2; a well-behaved one beside it, for none (exit 0)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from provisioning import cli
from tests.integration.conftest import ROOT, wait_for

NS = 10**9
MINUTE = 60 * NS


def _line(at_ns: int, service: str, log_type: str, **fields: Any) -> list[str]:
    body = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at_ns // NS)) + "Z", "level": "info",
            "log_type": log_type, "service": service, "env": "it", "message": "m", **fields}
    return [str(at_ns), json.dumps(body)]


def _http(at_ns: int, service: str, route: str, **fields: Any) -> list[str]:
    return _line(at_ns, service, "application", **{
        "event.name": "http.request", "http.route": route, "http.request.method": "GET",
        "http.response.status_code": 200, "http.server.request.duration": 0.01, **fields})


def _stream(service: str, log_type: str, values: list[list[str]], **labels: str) -> dict[str, Any]:
    return {"stream": {"service": service, "env": "it", "log_type": log_type, "level": "info", **labels},
            "values": sorted(values, key=lambda v: int(v[0]))}


@pytest.fixture(scope="module")
def services(loki_url: str) -> tuple[str, str]:
    tag = time.time_ns() % 10**8
    bad, good = f"it-schema-bad-{tag}", f"it-schema-good-{tag}"
    now = time.time_ns()
    before, recent = now - 120 * MINUTE, now - 30 * MINUTE  # the look-back window, then the reviewed hour
    streams = []
    for name in (bad, good):
        streams.append(_stream(name, "application", [_http(before + i * NS, name, "/orders/{id}")
                                                     for i in range(40)]))
        streams.append(_stream(name, "system", [_line(before + i * NS, name, "system", **{
            "event.name": "service.start", "service.lifecycle": "start"}) for i in range(3)]))
    # the good one keeps logging as before
    streams.append(_stream(good, "application", [_http(recent + i * NS, good, f"/r{i % 4}") for i in range(40)]))
    streams.append(_stream(good, "system", [_line(recent, good, "system", **{
        "event.name": "service.start", "service.lifecycle": "start"})]))
    # the bad one: order ids in http.route, 5 records without a status code, a new field, no more system log
    values = [_http(recent + i * NS, bad, f"/orders/{1000 + i}", **{"cart.size": i}) for i in range(40)]
    for row in values[:5]:
        record = json.loads(row[1])
        del record["http.response.status_code"]
        row[1] = json.dumps(record)
    streams.append(_stream(bad, "application", values))
    streams.append(_stream(bad, "debug", [_line(recent + i * NS, bad, "debug") for i in range(6)]))
    streams.append(_stream(bad, "application", [_http(recent + (50 + i) * NS, bad, "/orders/{id}")
                                                for i in range(3)], request_id="r-1"))
    requests.post(f"{loki_url}/loki/api/v1/push", json={"streams": streams}, timeout=30).raise_for_status()
    total = sum(len(s["values"]) for s in streams)

    def stored() -> bool:
        answer = requests.get(f"{loki_url}/loki/api/v1/query", params={
            "query": f'sum(count_over_time({{service=~"{bad}|{good}"}}[4h]))'}, timeout=30).json()
        result = answer["data"]["result"]
        return bool(result) and int(result[0]["value"][1]) >= total

    wait_for(stored, what=f"{total} records of {bad} and {good} in Loki")
    return bad, good


def review(capsys: pytest.CaptureFixture[str], service: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(["--config", str(ROOT / "tracklog.yaml"), "review", "schema", "--since", "1h", "--lookback", "2h",
                     "--service", service, "--output", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_misbehaving_service_is_reported_for_each_fault(services: tuple[str, str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad, _ = services
    code, report = review(capsys, bad)
    assert code == 2
    found = {(f["kind"], f["log_type"], f["field"]): f for f in report["findings"]}
    assert set(found) == {
        ("missing_fields", "application", "http.response.status_code"),
        ("unbounded_field", "application", "http.route"),
        ("new_field", "application", "cart.size"),
        ("unknown_log_type", "debug", "log_type"),
        ("unbounded_label", "", "request_id"),
        ("stopped", "system", ""),
    }, sorted(found)
    assert found[("missing_fields", "application", "http.response.status_code")]["count"] == 5
    assert found[("missing_fields", "application", "http.response.status_code")]["sampled"] == 43
    assert found[("unbounded_field", "application", "http.route")]["count"] == 41  # 40 ids and the template
    assert found[("new_field", "application", "cart.size")]["count"] == 40
    assert found[("unknown_log_type", "debug", "log_type")]["count"] == 6
    assert found[("stopped", "system", "")]["count"] == 3
    assert report["new_streams"] == [{"service": bad, "log_type": "debug"}]


def test_a_well_behaved_service_passes(services: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, good = services
    code, report = review(capsys, good)
    assert (code, report["findings"], report["streams"]) == (0, [], 2)


def test_the_text_report_groups_findings_by_kind(services: tuple[str, str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad, _ = services
    code = cli.main(["--config", str(ROOT / "tracklog.yaml"), "review", "schema", "--since", "1h", "--lookback", "2h",
                     "--service", bad])
    out = capsys.readouterr().out
    assert code == 2
    for title in ("records missing required fields (1)", "fields whose values look unbounded (1)",
                  "log types no longer emitted (1)", "fields seen for the first time (1)"):
        assert title in out
    assert "6 finding(s)" in out
