"""The native stack's servers are real and answer as the rest of tracklog expects."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import requests
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from provisioning.stack import Stack
from tests.integration.conftest import WebhookReceiver, loki_lines, prometheus_query, wait_for


def test_status_reports_every_server_healthy_with_its_version(stack: Stack) -> None:
    statuses = {s.name: s for s in stack.status()}
    assert set(statuses) == {"loki", "prometheus", "alertmanager", "s3"}
    for status in statuses.values():
        assert status.healthy, status
        assert status.version
        assert status.version != "?"
    assert statuses["prometheus"].version.startswith("2.42")


def test_up_twice_is_harmless(stack: Stack) -> None:
    pids = {s.name: s.pid for s in stack.status()}
    stack.up()
    assert {s.name: s.pid for s in stack.status()} == pids


def test_down_stops_exactly_what_up_started_and_up_brings_it_back(stack: Stack) -> None:
    (before,) = stack.status(["alertmanager"])
    assert before.pid is not None, "alertmanager was not started by this stack; cannot test down/up on it"
    others = {s.name: s.pid for s in stack.status() if s.name != "alertmanager"}
    assert stack.down(["alertmanager"]) == ["alertmanager"]
    status_file = Path(f"/proc/{before.pid}/status")
    assert not status_file.exists() or "zombie" in status_file.read_text()
    assert {s.name: s.pid for s in stack.status() if s.name != "alertmanager"} == others
    (after,) = stack.up(["alertmanager"])
    assert after.healthy
    assert after.pid != before.pid


def test_loki_takes_a_pushed_line_and_returns_it(loki_url: str) -> None:
    marker = f"stack-test-{time.time_ns()}"
    now = time.time_ns()
    body = {"streams": [{"stream": {"service": "stack-test", "log_type": "application"},
                         "values": [[str(now), json.dumps({"message": marker, "n": 1})]]}]}
    answer = requests.post(f"{loki_url}/loki/api/v1/push", json=body, timeout=10)
    assert answer.status_code == 204, answer.text
    query = '{service="stack-test"} |= "' + marker + '"'
    lines = wait_for(lambda: loki_lines(loki_url, query), what="the line in Loki")
    assert json.loads(lines[0])["message"] == marker
    parsed = wait_for(lambda: loki_lines(loki_url, '{service="stack-test"} | json | n="1" |= "' + marker + '"'),
                      what="the line through | json")
    assert len(parsed) == 1


def test_loki_rejects_a_malformed_push_with_a_4xx_and_says_why(loki_url: str) -> None:
    answer = requests.post(
        f"{loki_url}/loki/api/v1/push",
        data=b'{"streams":[{"stream":{"service":"x"},"values":[["not-a-timestamp","line"]]}]}',
        headers={"Content-Type": "application/json"}, timeout=10,
    )
    assert 400 <= answer.status_code < 500
    assert answer.text.strip()
    bad_labels = requests.post(
        f"{loki_url}/loki/api/v1/push",
        json={"streams": [{"stream": {"0bad-label": "x"}, "values": [[str(time.time_ns()), "line"]]}]}, timeout=10,
    )
    assert bad_labels.status_code == 400
    assert "label" in bad_labels.text.lower()


def test_prometheus_scrapes_a_target_served_by_the_test(prometheus_url: str, scrape_target_dir) -> None:
    registry = CollectorRegistry()
    value = time.time() % 1000
    Gauge("tracklog_stack_test_value", "A value only this test serves.", registry=registry).set(value)
    server, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    port = server.server_address[1]
    target = scrape_target_dir / f"stack-test-{os.getpid()}.json"
    target.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"service": "stack-test"}}]))
    try:
        result = wait_for(
            lambda: prometheus_query(prometheus_url, f'tracklog_stack_test_value{{instance="127.0.0.1:{port}"}}'),
            timeout=45, what="Prometheus to scrape the test target",
        )
        assert abs(float(result[0]["value"][1]) - value) < 1e-6
        assert result[0]["metric"]["service"] == "stack-test"
    finally:
        target.unlink()
        server.shutdown()


def test_alertmanager_delivers_an_alert_to_a_webhook(alertmanager_url: str, tracklog_config) -> None:
    receiver = WebhookReceiver(tracklog_config.stack.ports["alertmanager_webhook"])
    name = f"StackTest{time.time_ns()}"
    try:
        answer = requests.post(f"{alertmanager_url}/api/v2/alerts", json=[{
            "labels": {"alertname": name, "severity": "critical", "service": "stack-test"},
            "annotations": {"summary": "stack test"},
        }], timeout=10)
        assert answer.status_code == 200, answer.text
        delivered = wait_for(
            lambda: [a for body in receiver.received for a in body.get("alerts", [])
                     if a["labels"]["alertname"] == name],
            timeout=30, what="the webhook to receive the alert",
        )
        assert delivered[0]["status"] == "firing"
        assert delivered[0]["annotations"]["summary"] == "stack test"
    finally:
        receiver.close()


def test_the_s3_store_puts_lists_and_gets_an_object(stack: Stack, tracklog_config) -> None:
    import boto3
    from botocore.config import Config as BotoConfig

    from provisioning.stack.servers import s3_credentials

    access, secret = s3_credentials(tracklog_config)
    s3 = boto3.client("s3", endpoint_url=tracklog_config.endpoints.s3.url, aws_access_key_id=access,
                      aws_secret_access_key=secret, region_name="us-east-1",
                      config=BotoConfig(s3={"addressing_style": "path"}))
    bucket = f"stack-test-{time.time_ns() % 10**9}"
    s3.create_bucket(Bucket=bucket)
    payload = os.urandom(20_000)
    s3.put_object(Bucket=bucket, Key="2026/11/26/run.ndjson.gz", Body=payload)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["2026/11/26/run.ndjson.gz"]
    assert s3.get_object(Bucket=bucket, Key=listed[0])["Body"].read() == payload
    s3.delete_object(Bucket=bucket, Key=listed[0])
    s3.delete_bucket(Bucket=bucket)
