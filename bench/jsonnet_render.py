"""Time the Jsonnet bindings on our dashboards and alerts: gojsonnet (Go) and jsonnet (C++), side by side.

Run: .venv/bin/python bench/jsonnet_render.py [--runs N]. Each binding evaluates tracklog.jsonnet with
tracklog.yaml once to warm up, then N times; the table shows best and median, and the ratio of the
medians (provisioning/render.py defaults to the faster one).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from provisioning import config  # noqa: E402
from provisioning.jsonnetconfig import jsonnet_config  # noqa: E402
from provisioning.render import ENTRY, available_engines, evaluate  # noqa: E402


def measure(engine: str, raw: dict, runs: int) -> list[float]:
    evaluate(raw, ENTRY, engine)  # warm-up: imports, first parse
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        evaluate(raw, ENTRY, engine)
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--config", default=str(ROOT / "tracklog.yaml"))
    args = parser.parse_args(argv)

    raw = jsonnet_config(config.load(args.config))
    engines = available_engines()
    if not engines:
        print("no Jsonnet binding installed (pip install gojsonnet jsonnet)", file=sys.stderr)
        return 1
    output, _ = evaluate(raw, ENTRY, engines[0])
    rules = sum(len(g["rules"]) for g in output["grafanaAlerts"])
    print(f"tracklog.jsonnet: {len(output['grafanaDashboards'])} dashboards, {rules} alert rules; "
          f"{args.runs} runs after a warm-up")
    print(f"{'engine':<10} {'best':>9} {'median':>9}")
    medians = {}
    for engine in ("gojsonnet", "jsonnet"):
        if engine not in engines:
            print(f"{engine:<10} {'not installed':>19}")
            continue
        times = measure(engine, raw, args.runs)
        medians[engine] = statistics.median(times)
        print(f"{engine:<10} {min(times):>8.3f}s {medians[engine]:>8.3f}s")
    if len(medians) == 2:
        ratio = medians["jsonnet"] / medians["gojsonnet"]
        faster = "gojsonnet" if ratio > 1 else "jsonnet"
        print(f"ratio jsonnet/gojsonnet: {ratio:.1f}x  ({faster} is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
