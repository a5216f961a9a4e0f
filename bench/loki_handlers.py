"""Benchmark: tracklog's LokiHandler against python-logging-loki and loki-logger-handler, into the real Loki.

Each handler runs in its own process (recommended mode, same records), side by side in one run, through the same
counting proxy; the proxy injects the failure of each scenario. A plain FileHandler writing the same JSON is the
anchor for the caller's time per call. Ratios, not absolute times, are what to compare: the machine is shared.

    python -m bench loki            # all scenarios, 100,000 records healthy / 5,000 per failure scenario
    python -m bench loki --quick    # 10,000 / 1,000, for a first look
    python -m bench loki --baseline 9e40ac5 --scenarios healthy --handlers tracklog,stream-file
                                    # also tracklog as it was at that revision (a git worktree), side by side
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.faultproxy import FaultProxy
from bench.measure import count_in_loki, loki_cpu_seconds

HANDLERS = ("tracklog", "tracklog-protobuf", "loki-logger-handler", "python-logging-loki", "stream-file")
# name: (proxy mode, share of the logging time it lasts); "hung" lasts for good. Failure runs log at a steady rate
# for FAILURE_LOG_SECONDS, so an outage starts and ends while the service is still logging, as in production.
SCENARIOS = {
    "healthy": ("forward", 0.0),
    "down": ("down", 0.6),
    "429": ("429", 0.6),
    "503": ("503", 0.6),
    "hung": ("hung", float("inf")),
}
# python-logging-loki sends one request per record: a healthy run takes ~200 s and its rate barely varies. One round.
SINGLE_ROUND = {"python-logging-loki"}
FAILURE_LOG_SECONDS = 25.0  # the outage (15 s) outlasts loki-logger-handler's 10 s flush interval
EXIT_LIMIT_S = 300
ROOT = Path(__file__).resolve().parents[1]
# handler "tracklog@REV" -> the checkout of REV its worker runs in (bench.worker and exporters of that revision)
WORKTREES: dict[str, Path] = {}


def _worker(handler: str) -> tuple[str, Path]:
    """The worker's --handler and directory: a baseline handler runs its own revision's code."""
    name, _, revision = handler.partition("@")
    return name, (WORKTREES[revision] if revision else ROOT)


def add_baseline(revision: str, where: Path) -> str:
    """Check ``revision`` out into ``where`` (a detached git worktree) and name its tracklog handler."""
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(where), revision], cwd=ROOT, check=True,
                   capture_output=True)
    WORKTREES[revision] = where
    return f"tracklog@{revision}"


def wait_for_count(loki_url: str, service: str, expected: int, settle_s: float = 12.0) -> tuple[int, float]:
    """Poll until the count reaches ``expected`` or stops growing for ``settle_s``; (count, time it got there)."""
    last, last_change = -1, time.monotonic()
    reached_at = time.monotonic()
    while True:
        count = count_in_loki(loki_url, service)
        now = time.monotonic()
        if count != last:
            last, last_change, reached_at = count, now, now
        if count >= expected or now - last_change > settle_s:
            return count, reached_at
        time.sleep(0.5)


def run_one(handler: str, scenario: str, records: int, loki_url: str, spool: Path) -> dict:
    mode, share = SCENARIOS[scenario]
    rate = 0.0 if mode == "forward" else records / FAILURE_LOG_SECONDS
    seconds = share * FAILURE_LOG_SECONDS
    service = f"bench-{handler.replace('@', '-at-')}-{scenario}-{time.time_ns() % 10**8}"
    proxy = FaultProxy(loki_url)
    if mode != "forward":
        proxy.fail(mode, seconds)
    loki_cpu_before = loki_cpu_seconds(loki_url)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    kind, cwd = _worker(handler)
    worker = subprocess.Popen(
        [sys.executable, "-m", "bench.worker", "--handler", kind, "--url", proxy.url, "--service", service,
         "--records", str(records), "--rate", str(rate), "--spool-dir", str(spool)],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert worker.stdout is not None
    stats = json.loads(worker.stdout.readline() or "{}")
    logged_at = time.monotonic()
    try:
        worker.wait(timeout=EXIT_LIMIT_S)
        exit_s: float | str = round(time.monotonic() - logged_at, 2)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        exit_s = f">{EXIT_LIMIT_S} (killed)"
    if handler == "stream-file":
        delivered = len((spool / f"{service}.jsonl").read_text(encoding="utf-8").splitlines())
        done_at = logged_at
    else:
        delivered, _ = wait_for_count(loki_url, service, records)
        done_at = proxy.last_accepted_at  # when Loki accepted the last push (polling Loki would round it up)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker is the only child reaped since
    worker_cpu = (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    loki_cpu = loki_cpu_seconds(loki_url) - loki_cpu_before
    requests_sent = proxy.requests
    proxy.close()
    row = {
        "handler": handler, "scenario": scenario, "records": records, **stats,
        "delivered": delivered, "lost": records - delivered, "requests": requests_sent, "exit_s": exit_s,
        "delivered_per_s": round(delivered / max(done_at - started, 1e-6)) if scenario == "healthy" else None,
        "start_s": round(logged_at - started - stats.get("log_seconds", 0.0), 3),  # interpreter start and imports
        "tail_s": round(done_at - logged_at, 3),  # from the last log call to Loki taking the last push
        "worker_cpu_s": round(worker_cpu, 3),  # the logging process, start to exit
        "loki_cpu_s": round(loki_cpu, 3),  # the Loki server over the same run (its ingestion of these records)
    }
    if handler.startswith("tracklog") and row["lost"]:
        # tracklog spooled what Loki had not taken by exit; a restarted process replays it. Count that too.
        row["after_restart"] = replay_spool(handler, service, loki_url, spool, records)
    return row


def replay_spool(handler: str, service: str, loki_url: str, spool: Path, records: int) -> int:
    kind, cwd = _worker(handler)
    subprocess.run(
        [sys.executable, "-m", "bench.worker", "--handler", kind, "--url", loki_url, "--service", service,
         "--records", "0", "--spool-dir", str(spool)],
        cwd=cwd, capture_output=True, timeout=120, check=False,
    )
    return wait_for_count(loki_url, service, records)[0]


def median_runs(runs: list[dict]) -> list[dict]:
    """One row per scenario and handler: the run with the median delivered/s (each round's rate listed with it)."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        grouped.setdefault((run["scenario"], run["handler"]), []).append(run)
    rows = []
    for same in grouped.values():
        if len(same) == 1 or same[0].get("delivered_per_s") is None:
            rows.append(same[0])
            continue
        ranked = sorted(same, key=lambda r: r["delivered_per_s"])
        rows.append({**ranked[(len(ranked) - 1) // 2], "each_round": [r["delivered_per_s"] for r in same]})
    return rows


def table(rows: list[dict]) -> str:
    anchor = {r["scenario"]: r["call_median_us"] for r in rows if r["handler"] == "stream-file"}
    plain = {r["scenario"]: r.get("delivered_per_s") for r in rows if r["handler"] == "python-logging-loki"}
    batching = {r["scenario"]: r.get("delivered_per_s") for r in rows if r["handler"] == "loki-logger-handler"}
    out = ["| scenario | handler | delivered/s | each round | x python-logging-loki | x loki-logger-handler | "
           "call median µs | call p99 µs | x FileHandler (median) | requests | lost | exit s | CPU s (worker + Loki) | "
           "peak RSS MB |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = ratio_llh = ""
        if r.get("delivered_per_s") and plain.get(r["scenario"]):
            ratio = f"{r['delivered_per_s'] / plain[r['scenario']]:.1f}"
        if r.get("delivered_per_s") and batching.get(r["scenario"]):
            ratio_llh = f"{r['delivered_per_s'] / batching[r['scenario']]:.2f}"
        file_ratio = f"{r['call_median_us'] / anchor[r['scenario']]:.2f}" if anchor.get(r["scenario"]) else ""
        lost = str(r["lost"])
        if "after_restart" in r:  # tracklog spooled these; a restarted process delivered what follows
            lost += f" spooled; {r['records'] - r['after_restart']} after a restart"
        each = " / ".join(str(v) for v in r.get("each_round", []))
        out.append(
            f"| {r['scenario']} | {r['handler']} | {r.get('delivered_per_s') or ''} | {each} | {ratio} | {ratio_llh} | "
            f"{r['call_median_us']:.1f} | {r['call_p99_us']:.1f} | {file_ratio} | {r['requests']} | {lost} | "
            f"{r['exit_s']} | {r['worker_cpu_s']:.2f} + {r['loki_cpu_s']:.2f} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(out)


def baseline_lines(runs: list[dict]) -> str:
    """The caller's median time per call against the baseline revision's, per round (same round, same order)."""
    out = []
    for base in sorted({r["handler"] for r in runs if "@" in r["handler"]}):
        pairs = [(r["call_median_us"], b["call_median_us"]) for r in runs for b in runs
                 if r["handler"] == "tracklog" and b["handler"] == base and r["scenario"] == b["scenario"] == "healthy"
                 and r["round"] == b["round"]]
        if pairs:
            ratios = sorted(now / then for now, then in pairs)
            out.append(f"caller median per call, tracklog / {base}: median {ratios[(len(ratios) - 1) // 2]:.2f}x "
                       f"over {len(pairs)} rounds ({', '.join(f'{x:.2f}' for x in ratios)})")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench loki", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loki", default="http://127.0.0.1:3100")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--handlers", default=",".join(HANDLERS))
    parser.add_argument("--rounds", type=int, default=3,
                        help="healthy runs per handler, in alternating order; the table shows the median run")
    parser.add_argument("--json", help="also write every run here")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run tracklog as it was at this git revision, as handler tracklog@REV")
    args = parser.parse_args(argv)
    healthy_n, failure_n = (10_000, 1_000) if args.quick else (100_000, 5_000)
    handlers = args.handlers.split(",")
    runs = []
    spool_root = Path(tempfile.mkdtemp(prefix="tracklog-bench-"))
    if args.baseline:
        handlers.insert(1, add_baseline(args.baseline, spool_root / "baseline"))
    try:
        for scenario in args.scenarios.split(","):
            for round_no in range(args.rounds if scenario == "healthy" else 1):
                for handler in handlers if round_no % 2 == 0 else handlers[::-1]:  # nobody always runs first
                    if handler == "stream-file" and scenario != "healthy":
                        continue  # the file anchor has no Loki to fail
                    if handler in SINGLE_ROUND and round_no:
                        continue
                    spool = spool_root / f"{handler}-{scenario}-{round_no}"
                    n = healthy_n if scenario == "healthy" else failure_n
                    row = {**run_one(handler, scenario, n, args.loki, spool), "round": round_no + 1}
                    runs.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        for where in WORKTREES.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False,
                           capture_output=True)
        shutil.rmtree(spool_root, ignore_errors=True)
    rows = median_runs(runs)
    print(table(rows))
    print(baseline_lines(runs))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
