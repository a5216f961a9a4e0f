"""One benchmark run in its own process: log N records through one handler, report caller times, then exit.

The parent measures the exit time (from the `logged` line to the process ending) and counts in Loki what arrived.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from queue import Queue

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import peak_rss_mb
from exporters import JsonFormatter, LokiHandler, schema


def make_handler(kind: str, url: str, service: str, spool_dir: str) -> logging.Handler:
    push = url.rstrip("/") + "/loki/api/v1/push"
    tags = {"service": service, "env": "bench"}
    formatter = JsonFormatter(service=service, env="bench")
    if kind == "tracklog":  # the default encoding: JSON + gzip
        return LokiHandler(url, service=service, env="bench", spool_dir=spool_dir, spool_name=service)
    if kind == "tracklog-protobuf":
        return LokiHandler(url, service=service, env="bench", encoding="protobuf", spool_dir=spool_dir,
                           spool_name=service)
    if kind == "python-logging-loki":
        import logging_loki

        # The package's non-blocking mode, as its README recommends: a queue handler with a listener thread.
        handler: logging.Handler = logging_loki.LokiQueueHandler(Queue(-1), url=push, tags=tags, version="1")
        handler.setFormatter(formatter)  # QueueHandler.prepare() formats on the caller's thread: same JSON as ours
        return handler
    if kind == "loki-logger-handler":
        from loki_logger_handler.loki_logger_handler import LokiLoggerHandler

        return LokiLoggerHandler(url=push, labels=tags)  # its defaults: batches flushed every 10 s, gzip
    if kind == "stream-file":
        handler = logging.FileHandler(Path(spool_dir) / f"{service}.jsonl", encoding="utf-8")
        handler.setFormatter(formatter)
        return handler
    raise SystemExit(f"unknown handler {kind}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handler", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=0, help="records per second (0: as fast as possible)")
    parser.add_argument("--spool-dir", default="/tmp/tracklog-bench-spool")
    args = parser.parse_args()

    Path(args.spool_dir).mkdir(parents=True, exist_ok=True)
    handler = make_handler(args.handler, args.url, args.service, args.spool_dir)
    log = logging.getLogger("bench")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.raiseExceptions = False  # python-logging-loki prints a traceback per failed record otherwise

    times = []
    started = time.perf_counter()
    interval = 1.0 / args.rate if args.rate else 0.0
    for i in range(args.records):
        t0 = time.perf_counter_ns()
        schema.http_request(log, route="/orders/{id}/track", method="GET", status=200, duration_s=0.0123,
                            path=f"/orders/{i}/track", client_address="198.51.100.7", **{"bench.seq": i})
        times.append(time.perf_counter_ns() - t0)
        if interval:
            next_at = started + (i + 1) * interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    elapsed = time.perf_counter() - started
    times.sort()
    print(json.dumps({  # --records 0 (replaying a spool left by an earlier run) logs nothing: no call times
        "logged": args.records,
        "log_seconds": elapsed,
        "call_median_us": statistics.median(times) / 1000 if times else 0.0,
        "call_p99_us": times[int(len(times) * 0.99)] / 1000 if times else 0.0,
        "call_max_us": times[-1] / 1000 if times else 0.0,
        "peak_rss_mb": peak_rss_mb(),
    }), flush=True)
    # Exit as a service would: logging.shutdown() at interpreter exit flushes (or not) each handler. The queue
    # handler of python-logging-loki is given the clean shutdown its users would write: stop() drains the queue.
    listener = getattr(handler, "listener", None)
    if listener is not None:
        listener.stop()


if __name__ == "__main__":
    main()
