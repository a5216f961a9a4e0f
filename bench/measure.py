"""What the benchmarks measure the same way: records of a service counted in Loki, a process's peak memory, CPU."""

from __future__ import annotations

import time
from pathlib import Path


def count_in_loki(loki_url: str, service: str, window: str = "3h") -> int:
    """Lines of ``{service="..."}`` in Loki over the last ``window``."""
    import requests  # here, not at the top: the worker imports this module, and its start-up is measured

    answer = requests.get(f"{loki_url}/loki/api/v1/query", params={
        "query": f'sum(count_over_time({{service="{service}"}}[{window}]))', "time": time.time_ns() + 10**9,
    }, timeout=60)
    answer.raise_for_status()
    result = answer.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM of a process: its own peak (ru_maxrss would include a parent's size at fork); 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def loki_cpu_seconds(loki_url: str) -> float:
    """Loki's own ``process_cpu_seconds_total``: the server's share of a run's CPU, read before and after it."""
    import requests

    answer = requests.get(f"{loki_url}/metrics", timeout=10)
    answer.raise_for_status()
    for line in answer.text.splitlines():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.split()[1])
    raise RuntimeError(f"{loki_url}/metrics has no process_cpu_seconds_total")
