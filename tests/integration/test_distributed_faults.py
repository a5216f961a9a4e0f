"""Faults of the distributed topology under a steady load through `exporters`: nothing lost, nothing duplicated.

Each test prints what it measured (records, retries, spooled, caller p99 by phase); run with `-s` to see it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import botocore.config
import pytest
import requests

from provisioning.stack.distributed import BUCKET, INGESTERS, DistributedStack
from provisioning.stack.servers import s3_credentials
from tests.integration.conftest import ROOT, wait_for
from tests.integration.distributed_support import (
    Loggers,
    caller_p99_us,
    distributed_fixture,  # noqa: F401 - the `distributed` fixture
    kill,
    push_probe,
    read_all,
)

pytestmark = pytest.mark.distributed


def _delivered(stack: DistributedStack, service: str, run: str, since_ns: int) -> int:
    """How many of the run's records Loki counts so far (a progress signal; the exact check reads every line)."""
    window = max(60, int((time.time_ns() - since_ns) / 1e9) + 60)
    query = f'sum(count_over_time({{service="{service}", env="faulttest"}} |= "{run}" [{window}s]))'
    answer = requests.get(f"{stack.topology.read_url}/loki/api/v1/query", params={"query": query}, timeout=60)
    answer.raise_for_status()
    result = answer.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def test_ingester_kills_under_load_lose_nothing_and_duplicate_nothing(
        distributed: DistributedStack, tmp_path: Path) -> None:
    run = f"run-{uuid.uuid4().hex[:12]}"
    started_ns = time.time_ns() - 10**9
    loggers = Loggers(distributed.topology.push_url, run, tmp_path)
    phases: dict[str, float] = {"start": time.time()}
    loggers.start()
    try:
        wait_for(lambda: all(_delivered(distributed, s, run, started_ns) > 1000 for s in loggers.services),
                 timeout=120, what="every logger's records arriving")
        time.sleep(10)  # steady load, all replicas up

        phases["one_down"] = time.time()
        kill(distributed, "ingester-1")
        one_down = push_probe(distributed.topology.push_url)
        assert one_down.status_code == 204, f"one ingester down must not fail a push: {one_down.text}"
        before = {s: _delivered(distributed, s, run, started_ns) for s in loggers.services}
        wait_for(lambda: all(_delivered(distributed, s, run, started_ns) > before[s] + 2000 for s in loggers.services),
                 timeout=120, what="records still arriving with one ingester down")

        phases["two_down"] = time.time()
        kill(distributed, "ingester-2")
        status, text = wait_for(
            lambda: (answer := push_probe(distributed.topology.push_url)).status_code == 500
            and "at least 2 live replicas required" in answer.text and (answer.status_code, answer.text.strip()),
            timeout=60, what="the distributor refusing pushes for want of replicas",
        )
        print(f"\ntwo ingesters down: distributor answers {status} {text}")
        time.sleep(20)  # the loggers retry and spool meanwhile

        phases["recovering"] = time.time()
        distributed.up(["ingester-1", "ingester-2"])  # WAL replay; returns once the ring is all ACTIVE again
        assert {m.id: m.state for m in distributed.ring()} == dict.fromkeys(INGESTERS, "ACTIVE")
        wait_for(lambda: push_probe(distributed.topology.push_url).status_code == 204, timeout=60,
                 what="pushes accepted again")
        time.sleep(10)
        phases["stopping"] = time.time()
        summaries = loggers.stop()
    finally:
        loggers.terminate()
    phases["end"] = time.time()

    report = {}
    for service, summary in summaries.items():
        assert summary["dropped"] == {}, f"{service}: {summary['dropped']} ({summary['last_error']})"
        assert summary["spool_left"] == 0
        assert summary["sent"] + summary["spooled"] >= summary["logged"] == summary["accepted"]
        rows = read_all(distributed.topology.read_url, f'{{service="{service}", env="faulttest"}} |= "{run}"',
                        started_ns, time.time_ns() + 10**9)
        seqs = [json.loads(line)["load.seq"] for _, line in rows]
        missing = set(range(summary["logged"])) - set(seqs)
        duplicated = len(seqs) - len(set(seqs))
        report[service] = {
            "logged": summary["logged"], "in_loki": len(seqs), "missing": len(missing), "duplicated": duplicated,
            "missing_examples": sorted(missing)[:10],
            "retries": summary["retries"], "spooled": summary["spooled"], "close_s": summary["close_seconds"],
            "p99_us": {phase: _round(caller_p99_us(summary, phases[phase], phases[after]))
                       for phase, after in zip(list(phases)[:-2], list(phases)[1:-1], strict=True)},
        }
    print(json.dumps(report, indent=1))
    for service, numbers in report.items():
        lost = f"{service}: {numbers['missing']} records lost, e.g. seq {numbers['missing_examples']}"
        assert numbers["missing"] == 0, lost
        assert numbers["duplicated"] == 0, f"{service}: {numbers['duplicated']} distinguishable duplicates"
        assert numbers["in_loki"] == numbers["logged"]
    assert sum(n["retries"] for n in report.values()) > 0, "the outage never made a push fail: nothing was tested"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def test_the_s3_gateway_down_for_30s_does_not_stop_ingestion_and_flushes_land_after(
        distributed: DistributedStack, tmp_path: Path) -> None:
    run = f"run-{uuid.uuid4().hex[:12]}"
    started_ns = time.time_ns() - 10**9
    loggers = Loggers(distributed.topology.push_url, run, tmp_path, rate=500.0)
    loggers.start()
    try:
        wait_for(lambda: all(_delivered(distributed, s, run, started_ns) > 500 for s in loggers.services),
                 timeout=120, what="every logger's records arriving")
        kill(distributed, "s3")
        down_at = time.time()
        probes = []
        while time.time() - down_at < 30:
            probes.append(push_probe(distributed.topology.push_url).status_code)
            for name in INGESTERS:  # ask for flushes the gateway cannot take
                requests.post(f"{distributed.topology.url(name)}/flush", timeout=10)
            time.sleep(3)
        assert set(probes) == {204}, f"pushes failed while only the S3 gateway was down: {probes}"
        distributed.up(["s3"])
        back_ms = int(time.time() * 1000)
        for name in INGESTERS:
            assert requests.post(f"{distributed.topology.url(name)}/flush", timeout=10).status_code == 204
        wait_for(lambda: _chunk_through_at_least(distributed, int(down_at * 1000)), timeout=120, interval=2,
                 what="a chunk written during the outage flushed to the gateway once it is back")
        summaries = loggers.stop()
    finally:
        loggers.terminate()
    for service, summary in summaries.items():
        rows = read_all(distributed.topology.read_url, f'{{service="{service}", env="faulttest"}} |= "{run}"',
                        started_ns, time.time_ns() + 10**9)
        seqs = [json.loads(line)["load.seq"] for _, line in rows]
        print(f"\n{service}: logged {summary['logged']}, in Loki {len(seqs)}, distinct {len(set(seqs))}, "
              f"retries {summary['retries']}, spooled {summary['spooled']}, S3 back at {back_ms}")
        assert summary["dropped"] == {}
        assert sorted(seqs) == list(range(summary["logged"]))
        assert summary["retries"] == 0, "the S3 gateway's outage reached the writers"


def _chunk_through_at_least(stack: DistributedStack, ms: int) -> bool:
    """Is there a chunk in the bucket whose last entry is at or after ``ms`` (chunk keys name their time span)?"""
    access_key, secret_key = s3_credentials(stack.config)
    s3 = boto3.client("s3", endpoint_url=stack.topology.url("s3"), region_name="us-east-1",
                      aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="fake/")
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return any(int(key.split(":")[2], 16) >= ms for key in keys if key.count(":") == 3)


def _push_lines(url: str, service: str, count: int, batch: int = 5000) -> None:
    base = time.time_ns() - count * 1000
    for first in range(0, count, batch):
        values = [[str(base + i * 1000), json.dumps({"message": "read test", "n": i})]
                  for i in range(first, min(count, first + batch))]
        body = {"streams": [{"stream": {"service": service, "env": "faulttest", "log_type": "application",
                                        "level": "info"}, "values": values}]}
        answer = requests.post(f"{url}/loki/api/v1/push", json=body, timeout=60)
        assert answer.status_code == 204, answer.text


def _tracklog(*argv: str, read_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "provisioning.cli", *argv], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TRACKLOG_LOKI_URL": read_url})


def test_logs_during_query_frontend_and_querier_restarts_complete_or_fail_clearly(
        distributed: DistributedStack) -> None:
    service, count = f"dist-read-{uuid.uuid4().hex[:8]}", 20_000
    _push_lines(distributed.topology.push_url, service, count)
    argv = ("logs", "--service", service, "--since", "15m", "--limit", "0", "--output", "json")
    outcomes: list[tuple[int, int, str]] = []
    restarting = threading.Event()
    restarting.set()

    def read_while_restarting() -> None:
        while restarting.is_set():
            out, err = _tracklog(*argv, read_url=distributed.topology.read_url).communicate(timeout=300)
            records = json.loads(out) if out.strip().startswith("[") else []
            outcomes.append((len(records), len(err), err.strip()))

    def more_reads_than(n: int) -> Callable[[], bool]:
        return lambda: len(outcomes) > n

    reader = threading.Thread(target=read_while_restarting)
    reader.start()
    try:
        for names in (["query-frontend"], ["querier"], ["querier", "query-frontend"]):
            wait_for(more_reads_than(len(outcomes)), timeout=300, what="a read before the restart")
            distributed.down(names)
            time.sleep(2)
            distributed.up(names)
        wait_for(more_reads_than(len(outcomes) + 1), timeout=300, what="reads after the restarts")
    finally:
        restarting.clear()
        reader.join(timeout=600)
    completed = [o for o in outcomes if o[0] == count]
    failed = [o for o in outcomes if o[0] != count]
    print(f"\n{len(outcomes)} reads: {len(completed)} complete, {len(failed)} failed: "
          + "; ".join(sorted({o[2].splitlines()[-1][:160] for o in failed if o[2]})))
    for records, _, err in failed:
        assert records == 0, f"a read returned {records} of {count} records without failing"
        assert err.startswith("tracklog logs: Loki at"), err
        assert "Traceback" not in err, err
    assert outcomes[-1][0] == count, "the read after the restarts did not complete"


def test_logs_follow_through_a_query_frontend_restart_goes_on_or_stops_clearly(
        distributed: DistributedStack) -> None:
    service = f"dist-follow-{uuid.uuid4().hex[:8]}"
    _push_lines(distributed.topology.push_url, service, 10)
    follower = _tracklog("logs", "--service", service, "--since", "5m", "--follow", "--output", "json",
                         read_url=distributed.topology.read_url)
    printed: list[str] = []
    collector = threading.Thread(target=lambda: printed.extend(follower.stdout or []))
    collector.start()
    try:
        wait_for(lambda: len(printed) >= 10, timeout=60, what="the follower printing the first lines")
        distributed.down(["query-frontend"])
        _push_lines(distributed.topology.push_url, service, 10)
        time.sleep(3)
        distributed.up(["query-frontend"])
        _push_lines(distributed.topology.push_url, service, 10)
        still_running = follower.poll() is None
        if still_running:
            wait_for(lambda: len(printed) >= 30 or follower.poll() is not None, timeout=60,
                     what="the follower printing the lines pushed across the restart")
            still_running = follower.poll() is None
    finally:
        follower.terminate()
        follower.wait(timeout=30)
        collector.join(timeout=30)
    err = (follower.stderr.read() if follower.stderr else "").strip()
    print(f"\nfollow across a frontend restart: {'kept going' if still_running else 'stopped'}; "
          f"{len(printed)} lines; stderr: {err[-300:]}")
    if still_running:
        assert len({json.loads(line)["n"] for line in printed}) == 10  # 3 x n = 0..9: no line lost...
        assert len(printed) == 30  # ...and none shown twice
    else:
        assert follower.returncode == 1
        assert "tracklog logs: Loki at" in err
        assert "Traceback" not in err
