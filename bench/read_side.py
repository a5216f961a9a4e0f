"""Benchmark: the read side at volume, against a Loki 2.2.1 of its own seeded with 30 days of history.

One command, side by side in one run:

1. **Seed.** A Loki 2.2.1 (the cached binary; its config derived from stack/loki/loki.yaml) and an S3 gateway
   (versitygw, for the archive) are started on a loopback address of their own (default 127.0.19.1; ports 3100,
   9095, 9000) with their own state directory, never the shared stack on 127.0.0.1. A history of N records (default
   1,400,000) over the last 30 days is logged through ``exporters.LokiHandler`` itself (its JsonFormatter, hash
   chains, JSON+gzip encoder and push client; each record's time set to its place in the history) by four services:
   UI actions as audit records (most of the volume: every map open and refresh is audited), HTTP requests, DB
   queries and errors (application), logins and denied accesses (security), resource samples and restarts (system).
   Each service restarts once a simulated day, so audit and security records form one hash chain per service, log
   type and day. The ingester is then flushed and the chunks are left to drop out of its memory, so what is read
   back comes from the chunk store, like a real history.
2. **Archive against logcli.** ``tracklog archive --log-type audit`` over a range of whole days against
   ``logcli query --forward`` (logcli 2.2.1, built by stack/build/logcli.sh) exporting the same selector and range to a
   file, both with 5,000-line pages. Loki 2.2.1's logcli prints nothing with ``--limit 0`` (its batching loop runs
   while the count is below the limit), so it is given a limit above the range's line count.
3. **audit verify** over every audit and security record (about 1,000,000 by default), against logcli exporting the
   same records (what reading them costs, without verifying).
4. **tracklog logs --since 30d** with a filter (one service's TimeoutErrors), against logcli with the same LogQL.

For each: wall seconds, lines, lines/s, CPU seconds of the command (user+sys of the child process, from wait4), its
peak RSS, and Loki's CPU over the same run; then ratios (tracklog / logcli). The machine is shared: read the ratios.

    python -m bench read                       # 1.4M records (~1M audit+security), archive 10 days
    python -m bench read --records 200000      # a first look
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from bench.measure import loki_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
TRACKLOG = ROOT / ".venv" / "bin" / "tracklog"
BUILD = ROOT / "stack" / "build"
DAY_NS = 86_400 * 10**9
PAGE = 5000  # tracklog's page (provisioning.lokiquery.MAX_PAGE); logcli gets the same --batch
SERVICES = ("tracking-api", "courier-ingest", "auth", "web")
# (share, kind): what the history is made of. Audit dominates: every UI action of users and couriers is audited.
MIX = ((0.67, "ui"), (0.18, "http"), (0.04, "db"), (0.02, "error"), (0.045, "login"), (0.005, "denied"),
       (0.04, "usage"))
ACTIONS = ("open_map", "refresh_map", "track_order", "open_order", "change_location_settings", "rate_courier")
ROUTES = ("/api/v1/orders/{id}/track", "/api/v1/orders/{id}", "/api/v1/couriers/{id}/position")
ERRORS = (TimeoutError, ConnectionResetError, ValueError)


# -- the Loki and S3 gateway of this benchmark -------------------------------------------------------------------


def _built(script: str) -> str:
    result = subprocess.run(["bash", str(BUILD / script)], stdout=subprocess.PIPE, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        raise RuntimeError(f"stack/build/{script} failed (exit {result.returncode})")
    return lines[-1]


def loki_config(address: str, state: Path, port: int, grpc_port: int) -> dict:
    """stack/loki/loki.yaml for a Loki of the benchmark's own: its address (also in the ring), ports and state."""
    from provisioning.stack.runner import expand

    text = expand((ROOT / "stack" / "loki" / "loki.yaml").read_text(encoding="utf-8"), {
        "LISTEN_ADDRESS": address, "LOKI_PORT": str(port), "LOKI_GRPC_PORT": str(grpc_port),
        "TRACKLOG_STATE": str(state), "ALERTMANAGER_HOST": address, "ALERTMANAGER_PORT": "9",
    })
    config = yaml.safe_load(text)
    config["ingester"]["lifecycler"]["address"] = address  # else the querier asks 127.0.0.1:9095: the shared Loki
    config["ingester"]["lifecycler"]["port"] = grpc_port
    return config


class Servers:
    """Loki and versitygw on ``address``, state under ``state``; stopped (only these two pids) on exit."""

    def __init__(self, address: str, state: Path, s3_keys: tuple[str, str]) -> None:
        self.address, self.state, self.s3_keys = address, state, s3_keys
        self.loki_url = f"http://{address}:3100"
        self.s3_url = f"http://{address}:9000"
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Servers:
        for url in (self.loki_url, self.s3_url):
            try:
                requests.get(url, timeout=1)
            except requests.RequestException:
                continue
            raise RuntimeError(f"something already answers at {url}: pick another --address")
        loki, s3 = _built("loki.sh"), _built("s3.sh")
        (self.state / "loki").mkdir(parents=True, exist_ok=True)
        (self.state / "loki" / "runtime.yaml").write_text("overrides: {}\n", encoding="utf-8")
        (self.state / "s3").mkdir(parents=True, exist_ok=True)
        config = self.state / "loki.yaml"
        config.write_text(yaml.safe_dump(loki_config(self.address, self.state, 3100, 9095)), encoding="utf-8")
        self._start([loki, f"-config.file={config}"], "loki")
        self._start([s3, "--port", f"{self.address}:9000", "--health", "/health", "--quiet", "posix",
                     str(self.state / "s3")], "s3",
                    {"ROOT_ACCESS_KEY_ID": self.s3_keys[0], "ROOT_SECRET_ACCESS_KEY": self.s3_keys[1]})
        self._wait(self.loki_url + "/ready")
        self._wait(self.s3_url + "/health")
        return self

    def _start(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> None:
        log = (self.state / f"{name}.log").open("ab")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=log, env={**os.environ, **(env or {})},
                                           start_new_session=True))

    def _wait(self, url: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"a server exited; see {self.state}/*.log")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{url} not ready after {timeout:.0f}s; see {self.state}/*.log")

    def pid(self, index: int) -> int:
        return self.procs[index].pid

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the history ------------------------------------------------------------------------------------------------


@dataclass
class Seeded:
    records: int
    by_type: dict[str, int]
    start_ns: int
    end_ns: int
    seconds: float
    cpu_s: float
    loki_cpu_s: float


def seed(loki_url: str, spool: Path, records: int, days: int, end_ns: int, seed_value: int = 15) -> Seeded:
    """Log ``records`` records spread in time order over ``days`` days before ``end_ns`` through LokiHandler."""
    import exporters
    from exporters import JsonFormatter
    from exporters.loki.client import LokiClient

    rng = random.Random(seed_value)
    start_ns = end_ns - days * DAY_NS
    client = LokiClient(loki_url, spool_dir=spool, flush_timeout=300.0)
    clock = [0.0]

    def stamp(record: logging.LogRecord) -> bool:
        record.created = clock[0]
        record.msecs = (clock[0] % 1) * 1000
        return True

    loggers, handlers = {}, {}
    for service in SERVICES:
        handler = exporters.LokiHandler(client=client, service=service, env="bench")
        handler.addFilter(stamp)
        logger = logging.getLogger(f"bench.read.{service}")
        logger.handlers[:] = [handler]
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        loggers[service], handlers[service] = logger, handler
    kinds = [kind for _, kind in MIX]
    weights = [share for share, _ in MIX]
    by_type = {"application": 0, "system": 0, "audit": 0, "security": 0}
    of_kind = {"ui": "audit", "http": "application", "db": "application", "error": "application",
               "login": "security", "denied": "security", "usage": "system"}
    gap_ns = (end_ns - start_ns) // records
    ts = start_ns
    day = -1
    cpu0, loki0, started = _self_cpu(), loki_cpu_seconds(loki_url), time.perf_counter()
    picks = rng.choices(kinds, weights, k=records)
    for i, kind in enumerate(picks):
        ts += 1_000_000 + rng.randrange(2 * gap_ns - 2_000_000)  # strictly increasing, mean gap_ns
        ts = min(ts, end_ns - (records - i) * 1_000_000)
        clock[0] = ts / 1e9
        if ts // DAY_NS != day:  # a new day: every service restarts, so its chains start again
            day = ts // DAY_NS
            for service, handler in handlers.items():
                handler.setFormatter(JsonFormatter(service=service, env="bench"))
        _one(rng, kind, loggers, i)
        by_type[of_kind[kind]] += 1
        if not i & 1023:
            while client.queue_bytes > 32 << 20:  # stay well below the 64 MiB buffer: never drop
                time.sleep(0.005)
    client.flush(timeout=300.0)
    seconds = time.perf_counter() - started
    dropped = dict(client.stats.dropped)
    client.close(timeout=60.0)
    for handler in handlers.values():
        handler.close()
    if any(dropped.values()):
        raise RuntimeError(f"the seeding client dropped records: {dropped}")
    return Seeded(records, by_type, start_ns, end_ns, seconds, _self_cpu() - cpu0, loki_cpu_seconds(loki_url) - loki0)


def _one(rng: random.Random, kind: str, loggers: dict[str, logging.Logger], i: int) -> None:
    from exporters import schema

    if kind == "ui":
        service = "web" if rng.random() < 0.7 else "tracking-api"
        user = f"u-{rng.randrange(50_000)}" if rng.random() < 0.8 else f"c-{rng.randrange(3_000)}"
        schema.user_action(loggers[service], user_id=user, action=rng.choice(ACTIONS), **{"order.id": f"o-{i}"})
    elif kind == "http":
        service = rng.choice(("tracking-api", "tracking-api", "courier-ingest", "web"))
        route = rng.choice(ROUTES)
        status = 200 if rng.random() < 0.97 else rng.choice((404, 500, 503))
        schema.http_request(loggers[service], route=route, method="GET", status=status,
                            duration_s=round(rng.expovariate(1 / 0.05), 4), path=route.replace("{id}", str(i)),
                            client_address=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                            request_id=f"r-{i}")
    elif kind == "db":
        service = rng.choice(("tracking-api", "courier-ingest"))
        schema.db_query(loggers[service], statement="SELECT * FROM orders WHERE id = %s",
                        duration_s=round(rng.expovariate(1 / 0.01), 4), timed_out=False)
    elif kind == "error":
        service = rng.choice(("tracking-api", "tracking-api", "courier-ingest"))
        try:
            raise rng.choice(ERRORS)(f"upstream call {i} failed")
        except Exception as exc:  # a made-up error, logged with its stack
            schema.error(loggers[service], exc, request_id=f"r-{i}")
    elif kind == "login":
        ok = rng.random() < 0.92
        schema.login_attempt(loggers["auth"], user_id=f"u-{rng.randrange(50_000)}",
                             outcome="success" if ok else "failure", reason=None if ok else "bad_password",
                             client_address=f"203.0.113.{rng.randrange(1, 255)}", country="DE")
    elif kind == "denied":
        schema.access_denied(loggers["tracking-api"], user_id=f"u-{rng.randrange(50_000)}",
                             resource="/api/v1/admin/couriers", required_role="admin")
    else:
        service = rng.choice(SERVICES)
        schema.resource_usage(loggers[service], cpu=rng.random() * 0.8, memory_bytes=rng.randrange(100, 900) << 20,
                              open_files=rng.randrange(20, 200), threads=rng.randrange(4, 40))


def _self_cpu() -> float:
    times = os.times()
    return times.user + times.system


def settle(loki_url: str, seconds: float) -> None:
    """Flush every chunk to the store and wait until the ingester has dropped them (chunk_retain_period 2m)."""
    requests.post(loki_url + "/flush", timeout=60).raise_for_status()
    time.sleep(seconds)


# -- measured commands ---------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    command: str
    wall_s: float
    cpu_s: float
    rss_mb: float
    loki_cpu_s: float
    lines: int
    exit_code: int
    note: str = ""

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.wall_s if self.wall_s else 0.0


def measured(name: str, argv: list[str], loki_url: str, out: Path, env: dict[str, str] | None = None) -> tuple[
        float, float, float, float, int]:
    """Run ``argv`` with stdout to ``out``: wall s, CPU s (user+sys of the child, wait4), peak RSS MB, Loki CPU s."""
    loki0 = loki_cpu_seconds(loki_url)
    started = time.perf_counter()
    with out.open("wb") as sink, (out.parent / f"{out.name}.stderr").open("wb") as err:
        proc = subprocess.Popen(argv, stdout=sink, stderr=err, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    code = proc.returncode
    print(f"  {name}: {wall:.1f} s, exit {code}", file=sys.stderr, flush=True)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, loki_cpu_seconds(loki_url) - loki0, code


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 10**9))


def logcli(binary: str, loki_url: str, query: str, start_ns: int, end_ns: int, limit: int, work: Path,
           name: str) -> Run:
    out = work / f"{name}.out"
    argv = [binary, "--addr", loki_url, "query", "--forward", "--limit", str(limit), "--batch", str(PAGE), "-q",
            "-o", "raw", "--from", _iso(start_ns), "--to", _iso(end_ns), query]
    wall, cpu, rss, loki, code = measured(name, argv, loki_url, out)
    shown = " ".join(["--addr", "$LOKI", *argv[3:-1], f"'{query}'"])
    return Run(name, f"logcli {shown} > file", wall, cpu, rss, loki, _count_lines(out), code)


def tracklog(args: list[str], config: Path, loki_url: str, work: Path, name: str, count) -> Run:
    out = work / f"{name}.out"
    wall, cpu, rss, loki, code = measured(name, [str(TRACKLOG), "--config", str(config), *args], loki_url, out)
    try:
        lines, note = count(out.read_bytes())
    except (ValueError, KeyError) as exc:
        lines, note = 0, f"unreadable output ({exc}); see {out}"
    return Run(name, "tracklog " + " ".join(args), wall, cpu, rss, loki, lines, code, note)


# -- the run ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench read", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_400_000, help="records in the history (default 1,400,000)")
    parser.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    parser.add_argument("--archive-days", type=int, default=10, help="whole days archived (default 10)")
    parser.add_argument("--address", default="127.0.19.1", help="loopback address of this Loki and S3 gateway")
    parser.add_argument("--settle", type=float, default=150.0,
                        help="seconds to wait after flushing the ingester, until it has dropped the chunks")
    parser.add_argument("--keep", action="store_true", help="keep the state directory (Loki's data, outputs)")
    args = parser.parse_args(argv)
    if not TRACKLOG.exists():
        print(f"{TRACKLOG} is missing: make venv", file=sys.stderr)
        return 1
    logcli_bin = _built("logcli.sh")
    work = Path(tempfile.mkdtemp(prefix="tracklog-bench-read-"))
    print(f"state and outputs in {work}", file=sys.stderr, flush=True)
    from provisioning import config as tracklog_config

    keys = tracklog_config.load(ROOT / "tracklog.yaml").endpoints.s3.credentials()
    try:
        with Servers(args.address, work / "state", keys) as servers:
            return _bench(args, servers, logcli_bin, work)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, servers: Servers, logcli_bin: str, work: Path) -> int:
    url = servers.loki_url
    now_ns = time.time_ns()
    end_ns = now_ns - now_ns % DAY_NS + DAY_NS // 2  # today 12:00 UTC or earlier: whole days behind it
    if end_ns > now_ns - 600 * 10**9:
        end_ns -= DAY_NS
    print(f"seeding {args.records:,} records over {args.days} days into {url} ...", file=sys.stderr, flush=True)
    seeded = seed(url, work / "spool", args.records, args.days, end_ns)
    print(f"  seeded in {seeded.seconds:.1f} s ({seeded.records / seeded.seconds:,.0f} records/s; "
          f"{seeded.by_type})", file=sys.stderr, flush=True)
    settle(url, args.settle)

    config = yaml.safe_load((ROOT / "tracklog.yaml").read_text(encoding="utf-8"))
    config["endpoints"]["loki"]["url"] = url
    config["endpoints"]["s3"]["url"] = servers.s3_url
    config["stack"]["state_dir"] = str(work / "tracklog-state")
    config_path = work / "tracklog.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    # Archive: whole UTC days ending at the start of the day before end_ns.
    last_day = end_ns - end_ns % DAY_NS - DAY_NS
    arch_start, arch_end = last_day - args.archive_days * DAY_NS, last_day
    after, before = time.strftime("%Y-%m-%d", time.gmtime(arch_start // 10**9)), \
        time.strftime("%Y-%m-%d", time.gmtime(arch_end // 10**9))
    selector = '{log_type="audit", restored=""}'
    limit = 10 * args.records
    runs: list[tuple[str, Run, Run]] = []

    def archived(out: bytes) -> tuple[int, str]:
        doc = json.loads(out)
        return int(doc["lines_written"]), f"{doc['status']}, {doc['objects_written']} objects, " \
            f"{doc['bytes_written']:,} bytes"

    arch = tracklog(["archive", "--log-type", "audit", "--after", after, "--before", before, "--output", "json"],
                    config_path, url, work, "archive", archived)
    arch_cli = logcli(logcli_bin, url, selector, arch_start, arch_end, limit, work, "logcli-archive-range")
    runs.append((f"archive audit, {args.archive_days} days", arch, arch_cli))

    def verified(out: bytes) -> tuple[int, str]:
        doc = json.loads(out)
        return int(doc["records"]), f"{doc['chains']} chains, {len(doc['findings'])} findings, " \
            f"{doc['unchained']} unchained"

    since = f"{args.days + 1}d"
    ver = tracklog(["audit", "verify", "--since", since, "--output", "json"], config_path, url, work, "verify",
                   verified)
    ver_cli = logcli(logcli_bin, url, '{log_type=~"audit|security"}', now_ns - (args.days + 1) * DAY_NS, now_ns,
                     limit, work, "logcli-chained")
    runs.append(("audit verify, all audit+security", ver, ver_cli))

    def listed(out: bytes) -> tuple[int, str]:
        return len(json.loads(out)), ""

    logs_now = time.time_ns()  # tracklog's --since counts from its own start: the anchor's range from the same moment
    logs = tracklog(["logs", "--since", f"{args.days}d", "--service", "tracking-api", "--error-code",
                     "TimeoutError", "--limit", "0", "--output", "json"], config_path, url, work, "logs", listed)
    from provisioning.troubleshoot.search import LogFilters

    query = LogFilters(services=["tracking-api"], envs=[], log_types=[], levels=[], error_type="TimeoutError",
                       trace_id="", texts=[]).query()
    logs_cli = logcli(logcli_bin, url, query, logs_now - args.days * DAY_NS, logs_now, limit, work, "logcli-logs")
    runs.append((f"logs --since {args.days}d, one service's TimeoutErrors", logs, logs_cli))

    _report(args, seeded, runs)
    bad = [r for _, t, c in runs for r in (t, c) if r.exit_code != 0] + [
        t for _, t, c in runs if t.lines != c.lines]
    for run in bad:
        print(f"CHECK: {run.name} exit {run.exit_code}, {run.lines} lines", file=sys.stderr)
    return 1 if bad else 0


def _report(args: argparse.Namespace, seeded: Seeded, runs: list[tuple[str, Run, Run]]) -> None:
    print(f"\nhistory: {seeded.records:,} records over {args.days} days "
          f"({', '.join(f'{k} {v:,}' for k, v in seeded.by_type.items())}), logged through exporters.LokiHandler "
          f"in {seeded.seconds:.1f} s ({seeded.records / seeded.seconds:,.0f} records/s; CPU {seeded.cpu_s:.1f} s "
          f"bench + {seeded.loki_cpu_s:.1f} s Loki)\n")
    print("| task | command | lines | wall s | lines/s | CPU s | CPU s / 100k lines | peak RSS MB | Loki CPU s "
          "| x logcli lines/s | x logcli CPU | note |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for task, ours, anchor in runs:
        for run in (ours, anchor):
            mine = run is ours
            ratio_speed = f"{ours.lines_per_s / anchor.lines_per_s:.2f}" if mine and anchor.lines_per_s else ""
            ratio_cpu = f"{ours.cpu_s / anchor.cpu_s:.2f}" if mine and anchor.cpu_s else ""
            per = f"{run.cpu_s / run.lines * 1e5:.2f}" if run.lines else ""
            print(f"| {task if mine else ''} | `{run.command}` | {run.lines:,} | {run.wall_s:.1f} | "
                  f"{run.lines_per_s:,.0f} | {run.cpu_s:.1f} | {per} | {run.rss_mb:.0f} | {run.loki_cpu_s:.1f} | "
                  f"{ratio_speed} | {ratio_cpu} | {run.note} |")


if __name__ == "__main__":
    sys.exit(main())
