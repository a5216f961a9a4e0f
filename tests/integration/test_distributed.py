"""The distributed topology: Loki 2.2.1 as separate processes on 127.0.15.x, a memberlist ring, chunks in S3."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import boto3
import botocore.config
import pytest
import requests

from provisioning.stack.distributed import BUCKET, INGESTERS, DistributedStack
from provisioning.stack.servers import s3_credentials
from tests.integration.conftest import ROOT, loki_lines, wait_for
from tests.integration.distributed_support import distributed_fixture  # noqa: F401 - the `distributed` fixture

pytestmark = pytest.mark.distributed


def test_every_process_is_healthy_and_the_ring_has_every_ingester_active(distributed: DistributedStack) -> None:
    statuses = {s.name: s for s in distributed.status()}
    assert set(statuses) == {"s3", "distributor", *INGESTERS, "querier", "query-frontend"}
    for status in statuses.values():
        assert status.healthy, status
        assert status.pid is not None
        assert status.url.startswith("http://127.0.15.")
    assert statuses["distributor"].version == "2.2.1"
    ring = distributed.ring()
    assert [m.id for m in ring] == list(INGESTERS)
    assert {m.state for m in ring} == {"ACTIVE"}
    # memberlist advertises what each ingester binds: three distinct loopback addresses, none of them 127.0.0.1
    assert sorted(m.address for m in ring) == ["127.0.15.11:9095", "127.0.15.12:9095", "127.0.15.13:9095"]


def test_status_command_shows_the_ring(distributed: DistributedStack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "stack", "status", "--topology", "distributed", "--output", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    body = json.loads(result.stdout)
    assert {m["id"]: m["state"] for m in body["ring"]} == dict.fromkeys(INGESTERS, "ACTIVE")
    assert body["ring_error"] == ""
    text = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "stack", "status", "--topology", "distributed"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    ).stdout
    assert "ingester ring" in text
    assert "ingester-2   ACTIVE" in text


def test_up_twice_is_harmless(distributed: DistributedStack) -> None:
    pids = {s.name: s.pid for s in distributed.status()}
    distributed.up()
    assert {s.name: s.pid for s in distributed.status()} == pids


def test_a_line_pushed_to_the_distributor_is_read_through_the_query_frontend(distributed: DistributedStack) -> None:
    marker = f"dist-{time.time_ns()}"
    body = {"streams": [{"stream": {"service": "dist-test", "log_type": "application"},
                         "values": [[str(time.time_ns()), json.dumps({"message": marker})]]}]}
    answer = requests.post(f"{distributed.topology.push_url}/loki/api/v1/push", json=body, timeout=10)
    assert answer.status_code == 204, answer.text
    query = '{service="dist-test"} |= "' + marker + '"'
    lines = wait_for(lambda: loki_lines(distributed.topology.read_url, query), what="the line via the frontend")
    assert len(lines) == 1  # three replicas hold it; the querier returns it once


def test_flushed_chunks_and_each_ingesters_index_land_in_the_s3_gateway(distributed: DistributedStack) -> None:
    marker, pushed_ns = f"dist-flush-{time.time_ns()}", time.time_ns()
    pushed_ms = pushed_ns // 1_000_000
    body = {"streams": [{"stream": {"service": "dist-flush"}, "values": [[str(pushed_ns), marker]]}]}
    assert requests.post(f"{distributed.topology.push_url}/loki/api/v1/push", json=body, timeout=10).status_code == 204
    for name in INGESTERS:
        assert requests.post(f"{distributed.topology.url(name)}/flush", timeout=10).status_code == 204
    flushed = time.time()
    access_key, secret_key = s3_credentials(distributed.config)
    s3 = boto3.client("s3", endpoint_url=distributed.topology.url("s3"), region_name="us-east-1",
                      aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                      config=botocore.config.Config(s3={"addressing_style": "path"}))

    def objects() -> list[dict]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return [item for page in pages for item in page.get("Contents", [])]

    def chunk_of_the_line() -> bool:  # chunk keys are <tenant>/<fingerprint>:<from ms hex>:<through ms hex>:<crc>
        spans = [k["Key"].split("/")[1].split(":")[1:3] for k in objects() if k["Key"].startswith("fake/")]
        return any(int(first, 16) <= pushed_ms <= int(last, 16) for first, last in spans)

    wait_for(chunk_of_the_line, timeout=60, what="the flushed chunk holding the line in the bucket")

    # Loki 2.2's shipper uploads an index shard once its 15 minutes are over, and every shard when the ingester
    # stops; the object's name starts with the ingester's lifecycler id. Stop (and restart) each ingester in turn.
    def index_from(name: str) -> bool:
        return any(k["Key"].startswith("index/") and k["Key"].rsplit("/", 1)[-1].startswith(f"{name}-")
                   and k["LastModified"].timestamp() >= flushed - 1 for k in objects())

    for name in INGESTERS:
        distributed.down([name])
        wait_for(lambda name=name: index_from(name), timeout=60, interval=1,
                 what=f"{name}'s index uploaded to the bucket when it stopped")
        distributed.up([name])


def test_an_ingester_stopped_and_started_again_rejoins_the_ring_and_keeps_its_lines(
        distributed: DistributedStack) -> None:
    marker = f"dist-restart-{time.time_ns()}"
    body = {"streams": [{"stream": {"service": "dist-restart"}, "values": [[str(time.time_ns()), marker]]}]}
    assert requests.post(f"{distributed.topology.push_url}/loki/api/v1/push", json=body, timeout=10).status_code == 204
    before = {s.name: s.pid for s in distributed.status()}
    assert distributed.down(["ingester-3"]) == ["ingester-3"]
    assert {s.name: s.pid for s in distributed.status() if s.name != "ingester-3"} == {
        name: pid for name, pid in before.items() if name != "ingester-3"}
    (after,) = distributed.up(["ingester-3"])  # returns once the ring shows all three ACTIVE again
    assert after.healthy
    assert after.pid != before["ingester-3"]
    assert {m.id: m.state for m in distributed.ring()} == dict.fromkeys(INGESTERS, "ACTIVE")
    lines = loki_lines(distributed.topology.read_url, '{service="dist-restart"} |= "' + marker + '"')
    assert lines == [marker]
