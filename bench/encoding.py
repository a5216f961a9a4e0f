"""Benchmark: Loki push encodings side by side: protobuf + snappy against JSON + gzip, on the same records.

Measures bytes on the wire and encoding time per entry for a batch of HTTP-request records as tracklog's
JsonFormatter renders them. The client's default encoding is chosen by these numbers.

    python -m bench encoding [--records N]
"""

from __future__ import annotations

import argparse
import logging
import time

from exporters import JsonFormatter, schema
from exporters.loki.encode import ENCODERS, Entry, group
from exporters.loki.labels import label_set


def _lines(n: int) -> list[str]:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter(service="bench-encoding", env="bench"))
    log = logging.getLogger("bench.encoding")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    for i in range(n):
        schema.http_request(log, route="/orders/{id}/track", method="GET", status=200, duration_s=0.0123,
                            path=f"/orders/{i}/track", client_address="198.51.100.7", **{"bench.seq": i})
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench encoding", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args(argv)
    labels = label_set({"service": "bench-encoding", "env": "bench", "log_type": "application", "level": "info"})
    entries = [Entry(labels, 1_700_000_000_000_000_000 + i * 1000, line) for i, line in enumerate(_lines(args.records))]
    raw = sum(len(e.line.encode()) for e in entries)
    rows = []
    for name, encode in ENCODERS.items():
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            body = encode(group(entries)).body  # grouping is part of the sender's cost
            best = min(best, time.perf_counter() - started)
        rows.append((name, len(body), best * 1e6 / len(entries)))
    base = dict((name, (size, us)) for name, size, us in rows)["json"]
    print(f"{len(entries)} records, {raw} bytes of JSON lines; best of 5")
    print("| encoding | bytes | x json | µs per entry | x json |")
    print("|---|---|---|---|---|")
    for name, size, us in rows:
        print(f"| {name} | {size} | {size / base[0]:.2f} | {us:.2f} | {us / base[1]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
