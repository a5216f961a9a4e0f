"""Benchmark: the Faro collector against pushing the same records from Python directly, side by side in one run.

The payload is one the real Faro Web SDK 2.12.1 sent from headless Chromium (tests/unit/data/faro/, 14 records:
user actions, a JS error, web vitals, logs). Every path ends in a LokiHandler on the same in-memory transport, so
what is compared is the collector's own work (HTTP, parsing, checks, mapping) against the logging it feeds:

    python -m bench faro                 # 2,000 payloads each way, HTTP with 1 and 4 clients
    python -m bench faro --payloads 500  # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from exporters import LokiHandler, schema
from exporters.integrations.faro import CollectorSettings, FaroCollector, FaroMetrics, records
from exporters.integrations.faro.serve import AsgiServer
from exporters.testing import FakeTransport

PAYLOAD = Path(__file__).resolve().parents[1] / "tests" / "unit" / "data" / "faro" / "sdk-2.12.1-first-batch.json"
HEADERS = {"x-api-key": "bench-key", "content-type": "application/json"}


def _logger(name: str) -> tuple[logging.Logger, LokiHandler, FakeTransport]:
    transport = FakeTransport()
    handler = LokiHandler(transport=transport, service="bench", batch_max_wait=0.2)
    log = logging.getLogger(name)
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    return log, handler, transport


def _collector(log: logging.Logger) -> FaroCollector:
    unlimited = {"rate": 1e9, "burst": 10**9, "address_rate": 1e9, "address_burst": 10**9}
    return FaroCollector(CollectorSettings(app_keys={"bench-key": "web"}, **unlimited), logger=log,
                         metrics=FaroMetrics(CollectorRegistry()))


def _asgi_post(app: Any, body: bytes, key: str) -> int:
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status: dict[str, int] = {}

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]

    headers = [(k.encode(), v.encode()) for k, v in {**HEADERS, "idempotency-key": key}.items()]
    scope = {"type": "http", "method": "POST", "path": "/collect", "root_path": "", "client": ("127.0.0.1", 1),
             "headers": headers}
    asyncio.run(app(scope, receive, send))
    return status.get("code", 0)


def run(payloads: int) -> list[dict[str, Any]]:
    captured = json.loads(PAYLOAD.read_text(encoding="utf-8"))["body"]
    body = json.dumps(captured).encode()
    per_payload = len(list(records(captured, "web")))
    rows = []

    log, handler, transport = _logger("bench.faro.direct")
    mapped = list(records(captured, "web"))
    started = time.perf_counter()
    for _ in range(payloads):
        for rec in mapped:
            entry = log.makeRecord(log.name, rec.level, "bench", 0, rec.message, (), None, "bench")
            setattr(entry, schema.FIELDS_ATTR, dict(rec.fields))
            log.handle(entry)
    seconds = time.perf_counter() - started
    handler.client.flush(30)
    rows.append({"path": "the same records logged from Python (anchor)", "seconds": seconds,
                 "delivered": len(transport.lines())})

    log, handler, transport = _logger("bench.faro.asgi")
    app = _collector(log)
    started = time.perf_counter()
    statuses = [_asgi_post(app, body, f"asgi-{i}") for i in range(payloads)]
    seconds = time.perf_counter() - started
    handler.client.flush(30)
    assert set(statuses) == {202}, set(statuses)
    rows.append({"path": "collector in process (ASGI)", "seconds": seconds, "delivered": len(transport.lines())})

    import requests

    for clients in (1, 4):
        log, handler, transport = _logger(f"bench.faro.http{clients}")
        server = AsgiServer(_collector(log), read_limit=1 << 20).start()
        url = f"http://127.0.0.1:{server.port}/collect"
        each = payloads // clients

        def client(number: int, url: str = url, each: int = each) -> None:
            with requests.Session() as session:
                for i in range(each):
                    answer = session.post(url, data=body, headers={**HEADERS, "idempotency-key": f"{number}-{i}"})
                    assert answer.status_code == 202, answer.status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        seconds = time.perf_counter() - started
        handler.client.flush(30)
        server.close()
        rows.append({"path": f"collector over HTTP, keep-alive, {clients} client(s)", "seconds": seconds,
                     "delivered": len(transport.lines()), "payloads": each * clients})
    for row in rows:
        n = row.setdefault("payloads", payloads)
        row["payloads_per_s"] = n / row["seconds"]
        row["records_per_s"] = n * per_payload / row["seconds"]
        row["expected"] = n * per_payload
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    anchor = rows[0]["records_per_s"]
    out = ["| path | payloads | payloads/s | records/s | x direct logging | delivered / expected |",
           "|---|---|---|---|---|---|"]
    out += [f"| {r['path']} | {r['payloads']} | {r['payloads_per_s']:.0f} | {r['records_per_s']:.0f} | "
            f"{r['records_per_s'] / anchor:.2f} | {r['delivered']} / {r['expected']} |" for r in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench faro", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payloads", type=int, default=2000)
    args = parser.parse_args(argv)
    print(table(run(args.payloads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
