"""A steady logger for the distributed fault tests: one service logging through `exporters` at a fixed rate.

Run as a process of its own (one per service): logs records numbered 0, 1, 2, ... with the run id until the stop
file appears, then closes the handler (delivering what is queued and spooled), and writes a JSON summary: how many
records it logged, the client's counters, and each call's wall time and duration for the caller-latency figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from exporters import LokiHandler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="Loki's push side (the distributor)")
    parser.add_argument("--service", required=True)
    parser.add_argument("--run", required=True, help="run id, in every record")
    parser.add_argument("--rate", type=float, default=700.0, help="records per second")
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--buffer-max-bytes", type=int, default=4 << 20,
                        help="small, so that an outage of a few seconds spills the queue to the spool")
    parser.add_argument("--close-timeout", type=float, default=300.0)
    args = parser.parse_args()

    handler = LokiHandler(args.url, service=args.service, env="faulttest", spool_dir=args.spool_dir,
                          spool_name=args.service, buffer_max_bytes=args.buffer_max_bytes,
                          flush_timeout=args.close_timeout)
    log = logging.getLogger(f"faulttest.{args.service}")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    stop = Path(args.stop_file)
    wall: list[float] = []
    took_ns: list[int] = []
    start = time.monotonic()
    seq = 0
    while True:
        if seq % 100 == 0 and stop.exists():
            break
        ahead = start + seq / args.rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        began = time.perf_counter_ns()
        log.info("fault test record", extra={"run.id": args.run, "load.seq": seq, "order.id": f"o-{seq % 997}"})
        took_ns.append(time.perf_counter_ns() - began)
        wall.append(time.time())
        seq += 1
    closing = time.monotonic()
    handler.close()
    stats = handler.client.stats
    summary = {
        "service": args.service, "logged": seq, "close_seconds": round(time.monotonic() - closing, 2),
        "accepted": stats.accepted, "sent": stats.sent, "retries": stats.retries, "spooled": stats.spooled,
        "dropped": {reason: n for reason, n in stats.dropped.items() if n}, "last_error": stats.last_error,
        "spool_left": len(handler.client.spool) if handler.client.spool is not None else 0,
        "wall": wall, "took_ns": took_ns,
    }
    Path(args.out).write_text(json.dumps(summary), encoding="utf-8")


if __name__ == "__main__":
    main()
