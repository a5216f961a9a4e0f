"""`tracklog review retention` against the real Loki 2.2.1: lines pushed with their own timestamps over three days
come back as each day's lines and bytes, with the steady-state size at the configured retention."""

from __future__ import annotations

import json
import time

import pytest
import requests

from provisioning import cli
from tests.integration.conftest import ROOT, wait_for

NS = 10**9
DAY = 86_400
PER_DAY = (40, 70, 100)  # lines on each of the last three days, oldest first


@pytest.fixture(scope="module")
def service(loki_url: str) -> tuple[str, list[int], int]:
    name = f"it-retention-{time.time_ns() % 10**8}"
    now = time.time_ns()
    values, sizes = [], [0, 0, 0]
    for day, count in enumerate(PER_DAY):
        middle = now - (len(PER_DAY) - day) * DAY * NS + DAY * NS // 2  # well inside its day, whenever the review runs
        for i in range(count):
            line = json.dumps({"message": f"order {i} picked up", "day": day, "pad": "x" * (i % 17)})
            values.append([str(middle + i * NS), line])
            sizes[day] += len(line.encode())
    body = {"streams": [{"stream": {"service": name, "log_type": "application", "level": "info"}, "values": values}]}
    requests.post(f"{loki_url}/loki/api/v1/push", json=body, timeout=30).raise_for_status()

    def stored() -> bool:
        answer = requests.get(f"{loki_url}/loki/api/v1/query", params={
            "query": f'sum(count_over_time({{service="{name}"}}[4d]))'}, timeout=30).json()["data"]["result"]
        return bool(answer) and int(answer[0]["value"][1]) == sum(PER_DAY)

    wait_for(stored, what=f"{sum(PER_DAY)} lines of {name} in Loki")
    return name, sizes, now


def test_each_days_lines_and_bytes_are_what_was_pushed(service: tuple[str, list[int], int],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    name, sizes, pushed_at = service
    first = pushed_at - 2.5 * DAY * NS  # the first line: the middle of the range's first day
    before = time.time_ns()
    code = cli.main(["--config", str(ROOT / "tracklog.yaml"), "review", "retention", "--since", "3d",
                     "--price-gb-month", "0.05", "--output", "json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    [group] = [g for g in report["groups"] if g["service"] == name]
    assert group["lines_per_day"] == list(PER_DAY)
    assert group["bytes_per_day"] == sizes
    assert group["retention_seconds"] == 30 * DAY
    after = time.time_ns()
    # averaged from the start of the hour that holds the first line to the end of the review's range
    assert (before - first) / NS / DAY <= group["days_seen"] <= ((after - first) / NS + 3600) / DAY
    assert group["steady_raw_bytes"] == pytest.approx(sum(sizes) / group["days_seen"] * 30)
    assert group["rule"].startswith('{log_type="application"} (tracklog.yaml:')
    assert report["loki_price_gb_month"] == 0.05
    assert "query" in report["lookback_note"]  # read or said why not
