"""Hash chains of audit records, verified from the real Loki: a clean chain passes; tampering is named."""

from __future__ import annotations

import argparse
import json
import logging
import time

from exporters import JsonFormatter, LokiClient, schema
from exporters.loki.labels import label_set
from provisioning import config
from provisioning.audit.verify import verify
from provisioning.commands import audit
from provisioning.lokiquery import LokiReader
from tests.integration.conftest import ROOT, loki_lines, wait_for


def _chained_lines(service: str, n: int) -> list[str]:
    formatter = JsonFormatter(service=service, env="test")
    lines = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))

    log = logging.getLogger(f"tests.audit.{service}")
    log.handlers[:] = [Collect()]
    log.setLevel(logging.INFO)
    log.propagate = False
    for i in range(n):
        schema.user_action(log, user_id=f"u{i}", action="open_map")
    return lines


def _push(loki_url: str, service: str, lines: list[str], timestamps: list[int]) -> None:
    client = LokiClient(loki_url, batch_max_wait=0.05)
    labels = label_set({"service": service, "env": "test", "log_type": "audit", "level": "info"})
    for ts, line in zip(timestamps, lines, strict=True):
        client.push(labels, ts, line)
    assert client.flush(10)
    client.close()
    wait_for(lambda: len(loki_lines(loki_url, f'{{service="{service}"}}')) == len(lines), what="the records")


def test_a_clean_chain_verifies_and_tampering_is_named(loki_url: str) -> None:
    reader = LokiReader(config.load(ROOT / "tracklog.yaml"))
    base = time.time_ns() - 120 * 10**9

    clean = f"it-chain-clean-{time.time_ns() % 10**8}"
    lines = _chained_lines(clean, 10)
    _push(loki_url, clean, lines, [base + i * 10**6 for i in range(10)])
    report = verify(reader.entries(f'{{service="{clean}"}}', base - 10**9, time.time_ns()))
    assert (report.chains, report.records, report.findings) == (1, 10, ())

    tampered = f"it-chain-bad-{time.time_ns() % 10**8}"
    lines = _chained_lines(tampered, 10)
    altered = json.loads(lines[6])
    altered["user.id"] = "someone-else"  # seq 7: content changed after it was hashed
    lines[6] = json.dumps(altered)
    stamps = [base + i * 10**6 for i in range(10)]
    stamps[7], stamps[8] = stamps[8], stamps[7]  # seq 8 and 9 stored in swapped order
    keep = [i for i in range(10) if i != 3]  # seq 4 removed
    _push(loki_url, tampered, [lines[i] for i in keep], [stamps[i] for i in keep])
    report = verify(reader.entries(f'{{service="{tampered}"}}', base - 10**9, time.time_ns()))
    kinds = {(f.kind, f.seq) for f in report.findings}
    assert ("removed", 5) in kinds
    assert ("altered", 7) in kinds
    assert ("reordered", 9) in kinds

    args = argparse.Namespace(config=str(ROOT / "tracklog.yaml"), since="1h", start=None, end=None,
                              service=tampered, output="text")
    assert audit.run(args) == 1
    args.service = clean
    assert audit.run(args) == 0
