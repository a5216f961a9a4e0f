"""Benchmark: tracklog's file agent against Promtail 2.2.1, shipping the same nginx access log into the real Loki.

One run, side by side: N nginx access-log lines (the format of the nginx regex in tracklog.yaml's
``agent.sources[0]``, timestamps spread in order over the last few minutes) are written to a temp file, then

- ``tracklog --config <tmp> agent --once`` ships them (a temp copy of tracklog.yaml: temp state dir and positions,
  one regex source with a unique ``service`` label), and
- Promtail 2.2.1 (built by stack/build/promtail.sh; Apache-2.0) tails the same file with a minimal config and a
  different unique ``service`` label, and is stopped (SIGTERM) once Loki holds every line or the count stalls.

For each: wall seconds from start until Loki counts every line, lines/s, CPU seconds of the process (user+sys),
CPU seconds per 10,000 lines, peak RSS (VmHWM polled from /proc) and lines delivered. Promtail is skipped, with
the reason printed, if it cannot be built. The machine is shared: compare the ratios, not absolute numbers.

    python -m bench agent                 # 200,000 lines
    python -m bench agent --lines 20000   # a first look
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from bench.measure import count_in_loki, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
TRACKLOG = ROOT / ".venv" / "bin" / "tracklog"
PROMTAIL_BUILD = ROOT / "stack" / "build" / "promtail.sh"
STALL_S = 15.0
POLL_S = 0.5  # each count query costs Loki CPU too: not much faster
SPREAD_S = 300  # the lines' timestamps cover the last five minutes
CLK_TCK = os.sysconf("SC_CLK_TCK")

ROUTES = (  # (weight, method, path template, typical body bytes); {id} makes every line unique (Loki drops
    (45, "GET", "/api/v1/orders/{id}/track", 900),  # exact duplicates with the same timestamp)
    (15, "GET", "/api/v1/orders/{id}", 1800),
    (12, "POST", "/api/v1/couriers/{id}/position", 60),
    (8, "GET", "/static/js/app.{id}.js", 48000),
    (6, "GET", "/static/img/{id}.png", 12000),
    (6, "POST", "/api/v1/auth/login?attempt={id}", 320),
    (4, "PUT", "/api/v1/orders/{id}/status", 240),
    (4, "GET", "/healthz?probe={id}", 2),
)
STATUSES = ((88, 200), (4, 304), (3, 404), (2, 401), (1, 499), (1, 500), (1, 502))
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "TrackingApp/3.12.0 (Android 14; Pixel 8)",
    "kube-probe/1.29",
    "curl/8.5.0",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class Result:
    name: str
    wall_s: float
    first_s: float
    cpu_s: float
    peak_rss_mb: float
    delivered: int
    lines: int
    note: str = ""

    @property
    def lines_per_s(self) -> float:
        return self.delivered / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def steady_lines_per_s(self) -> float:
        """Lines/s from the first line in Loki to the last: without start-up (Promtail's discovery waits ~5 s)."""
        span = self.wall_s - self.first_s
        return self.delivered / span if span > 0 else float("nan")

    @property
    def cpu_per_10k(self) -> float:
        return self.cpu_s / self.delivered * 10_000 if self.delivered else float("nan")


# ---------------------------------------------------------------------------------------------- the log file


def nginx_time(epoch: float) -> str:
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def write_access_log(path: Path, lines: int, seed: int = 7) -> int:
    """Write ``lines`` nginx "combined" lines (plus request time) in time order; return the file size in bytes."""
    rng = random.Random(seed)
    routes = rng.choices(ROUTES, weights=[r[0] for r in ROUTES], k=lines)
    statuses = rng.choices([s for _, s in STATUSES], weights=[w for w, _ in STATUSES], k=lines)
    clients = [f"{rng.choice((10, 192, 203))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
               for _ in range(500)]
    start = time.time() - SPREAD_S
    step = SPREAD_S / max(lines, 1)
    stamp_second, stamp = -1, ""
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            second = int(start + i * step)
            if second != stamp_second:
                stamp_second, stamp = second, nginx_time(second)
            _, method, template, size = routes[i]
            status = statuses[i]
            body = 0 if status == 304 else max(0, int(rng.gauss(size, size / 5)))
            request_path = template.format(id=f"{(i * 7919 + 104729) % 10_000_000:07d}")
            referer = "-" if rng.random() < 0.7 else "https://track.example.com/orders"
            out.write(f'{rng.choice(clients)} - - [{stamp}] "{method} {request_path} HTTP/1.1" {status} {body} '
                      f'"{referer}" "{rng.choice(AGENTS)}" {rng.uniform(0.001, 0.4):.3f}\n')
    return path.stat().st_size


# ---------------------------------------------------------------------------------------------- Loki and /proc


def proc_cpu_s(pid: int) -> float | None:
    """user+sys seconds of a live process from /proc/<pid>/stat (fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class HwmSampler(threading.Thread):
    """Read a process's VmHWM every 10 ms (a poll of Loki takes far longer; a short run would be missed)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self._stop_event = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.01):
            self.peak_mb = max(self.peak_mb, peak_rss_mb(self.pid))

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak_mb


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def watch(proc: subprocess.Popen, loki_url: str, service: str, expected: int, started: float,
          ) -> tuple[int, float, float, float, float | None]:
    """Poll Loki and /proc until Loki holds ``expected`` lines, or the count stalls for STALL_S (counted from the
    process's exit if it exits). Returns (count, seconds from start to the last count change, seconds to the first
    line, peak RSS MB, CPU seconds of the process when the count completed, if it was still running then)."""
    sampler = HwmSampler(proc.pid)
    sampler.start()
    count, changed_at, cpu_at_done, first_at = -1, time.monotonic(), None, None
    try:
        while True:
            running = proc.poll() is None
            try:
                now_count = count_in_loki(loki_url, service, window="1h")
            except requests.RequestException as exc:
                print(f"  (count query failed: {exc})", file=sys.stderr)
                now_count = count
            now = time.monotonic()
            if now_count != count:
                count, changed_at = now_count, now
                if count > 0 and first_at is None:
                    first_at = now
            if count >= expected:
                if running:
                    cpu_at_done = proc_cpu_s(proc.pid)
                break
            if not running and now - max(changed_at, started) > STALL_S:
                break
            if running and now - changed_at > STALL_S and (count > 0 or now - started > 4 * STALL_S):
                break
            time.sleep(POLL_S)
    finally:
        hwm = sampler.stop()
    first_s = (first_at if first_at is not None else changed_at) - started
    return count, changed_at - started, first_s, hwm, cpu_at_done


# ---------------------------------------------------------------------------------------------- the two agents


def run_tracklog(work: Path, log_file: Path, lines: int, loki_url: str, service: str) -> Result:
    config = yaml.safe_load((ROOT / "tracklog.yaml").read_text(encoding="utf-8"))
    nginx = config["agent"]["sources"][0]
    state = work / "tracklog-state"
    config["stack"]["state_dir"] = str(state)
    config["agent"] = {
        "positions_file": str(work / "tracklog-positions.json"),
        "sources": [{"name": "bench-nginx", "path": str(log_file), "format": "regex", "regex": nginx["regex"],
                     "labels": {"service": service, "log_type": "application"}}],
    }
    config_path = work / "tracklog.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "TRACKLOG_STATE": str(state)}
    env.pop("TRACKLOG_CONFIG", None)

    cpu_before = children_cpu_s()
    started = time.monotonic()
    with (work / "tracklog-agent.log").open("w") as log:
        proc = subprocess.Popen([str(TRACKLOG), "--config", str(config_path), "agent", "--once"],
                                cwd=work, stdout=log, stderr=subprocess.STDOUT, env=env)
        count, wall, first, hwm, _ = watch(proc, loki_url, service, lines, started)
        rc = proc.wait()
    cpu = children_cpu_s() - cpu_before
    note = "" if rc == 0 else f"agent exit {rc} (see {work / 'tracklog-agent.log'})"
    return Result("tracklog agent --once", wall, first, cpu, hwm, count, lines, note)


def build_promtail() -> tuple[str | None, str]:
    """(binary path, "") or (None, reason)."""
    if shutil.which("go") is None and not os.environ.get("TRACKLOG_PROMTAIL"):
        return None, "Go is not installed, so stack/build/promtail.sh cannot build Promtail"
    if os.environ.get("TRACKLOG_PROMTAIL"):
        return os.environ["TRACKLOG_PROMTAIL"], ""
    print("building/locating Promtail 2.2.1 (stack/build/promtail.sh; minutes on a cold cache) ...", flush=True)
    done = subprocess.run(["bash", str(PROMTAIL_BUILD)], capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not os.access(lines[-1], os.X_OK):
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return None, f"stack/build/promtail.sh failed (exit {done.returncode}): {tail}"
    return lines[-1], ""


def run_promtail(binary: str, work: Path, log_file: Path, lines: int, loki_url: str, service: str) -> Result:
    config = {
        "server": {"disable": True},
        "positions": {"filename": str(work / "promtail-positions.yaml")},
        "clients": [{"url": f"{loki_url}/loki/api/v1/push"}],
        "scrape_configs": [{
            "job_name": "bench-nginx",
            "static_configs": [{"targets": ["localhost"], "labels": {"service": service, "__path__": str(log_file)}}],
        }],
    }
    config_path = work / "promtail.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    cpu_before, cpu_last = children_cpu_s(), None
    started = time.monotonic()
    with (work / "promtail.log").open("w") as log:
        proc = subprocess.Popen([binary, f"-config.file={config_path}", "-log.level=warn"],
                                cwd=work, stdout=log, stderr=subprocess.STDOUT)
        try:
            count, wall, first, hwm, cpu_at_done = watch(proc, loki_url, service, lines, started)
        finally:
            if proc.poll() is None:
                cpu_last = proc_cpu_s(proc.pid)
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    cpu_total = children_cpu_s() - cpu_before  # includes its idle tail and shutdown
    cpu = cpu_at_done if cpu_at_done is not None else (cpu_last if cpu_last is not None else cpu_total)
    note = "" if proc.returncode in (0, -signal.SIGTERM) else f"promtail exit {proc.returncode}"
    return Result("promtail 2.2.1", wall, first, cpu, hwm, count, lines, note)


# ---------------------------------------------------------------------------------------------- report


def table(results: list[Result]) -> str:
    rows = [
        ("wall s (start → all lines in Loki)", lambda r: r.wall_s, "{:.2f}"),
        ("lines/s", lambda r: r.lines_per_s, "{:,.0f}"),
        ("s to first line in Loki", lambda r: r.first_s, "{:.2f}"),
        ("lines/s after the first line", lambda r: r.steady_lines_per_s, "{:,.0f}"),
        ("CPU s (user+sys)", lambda r: r.cpu_s, "{:.2f}"),
        ("CPU s / 10,000 lines", lambda r: r.cpu_per_10k, "{:.3f}"),
        ("peak RSS MB (VmHWM)", lambda r: r.peak_rss_mb, "{:.1f}"),
        ("lines delivered", lambda r: r.delivered, "{:,}"),
    ]
    names = [r.name for r in results]
    header = "| metric | " + " | ".join(names) + (" | ratio (tracklog / promtail) |" if len(results) == 2 else " |")
    out = [header, "|" + "---|" * (len(names) + 1 + (len(results) == 2))]
    for label, get, fmt in rows:
        cells = [fmt.format(get(r)) for r in results]
        if len(results) == 2:
            a, b = get(results[0]), get(results[1])
            cells.append(f"{a / b:.2f}" if b else "-")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    lines_total = results[0].lines
    out.append(f"\nN = {lines_total:,} lines; lines delivered counted in Loki by service label.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench agent", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="nginx lines to ship (default 200,000)")
    parser.add_argument("--loki", default="http://127.0.0.1:3100", help="Loki base URL")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (configs, logs, the file)")
    args = parser.parse_args(argv)
    loki_url = args.loki.rstrip("/")

    try:
        requests.get(f"{loki_url}/ready", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        print(f"Loki is not ready at {loki_url} ({exc}); start it with `tracklog stack up`.")
        return 1

    binary, skip_reason = build_promtail()
    work = Path(tempfile.mkdtemp(prefix="tracklog-bench-agent-"))
    try:
        log_file = work / "access.log"
        size = write_access_log(log_file, args.lines)
        print(f"wrote {args.lines:,} nginx lines ({size / 1e6:.1f} MB) to {log_file}", flush=True)
        run_id = f"{os.getpid()}-{time.time_ns() % 10**9}"

        results = []
        print("running tracklog agent --once ...", flush=True)
        results.append(run_tracklog(work, log_file, args.lines, loki_url, f"bench-agent-tracklog-{run_id}"))
        if binary:
            print(f"running {binary} ...", flush=True)
            results.append(run_promtail(binary, work, log_file, args.lines, loki_url, f"bench-agent-promtail-{run_id}"))
        print()
        print(table(results))
        if not binary:
            print(f"\nPromtail skipped: {skip_reason}")
        for r in results:
            if r.delivered != r.lines:
                print(f"note: {r.name} delivered {r.delivered:,} of {r.lines:,} lines")
            if r.note:
                print(f"note: {r.name}: {r.note}")
        print("CPU: tracklog from its exit rusage (interpreter start-up included); promtail from /proc/<pid>/stat "
              "when Loki held every line. Peak RSS: VmHWM sampled every 10 ms. Loki is polled every 0.5 s.")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
