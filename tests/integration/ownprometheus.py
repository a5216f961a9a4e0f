"""A Prometheus of a test's own (Debian's binary, its own port and data directory), and Prometheus's remote-write
protocol for feeding it series as another writer would (a Loki ruler, an agent)."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import cramjam
import requests

from tests.integration.conftest import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def own_prometheus(base: Path, config: Mapping[str, Any], *flags: str) -> Iterator[str]:
    """Run ``prometheus`` with ``config`` (prometheus.yml as a mapping) and its TSDB in ``base / "data"`` (kept if
    there, e.g. backfilled); yields its URL once ready, stops it after."""
    (base / "prometheus.yml").write_text(json.dumps(config))
    port = free_port()
    with (base / "prometheus.log").open("w") as log:
        proc = subprocess.Popen(["prometheus", f"--config.file={base / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={base / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                 *flags], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        try:
            wait_for(ready, timeout=60, what=f"the test's Prometheus at {url}")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


STALE = None  # a sample value: Prometheus's staleness marker (the NaN it writes when a series ends, value.StaleNaN)
_STALE_NAN = struct.pack("<Q", 0x7FF0000000000002)


def remote_write(url: str, series: Sequence[tuple[Mapping[str, str], Sequence[tuple[float, float | None]]]]) -> None:
    """POST prometheus.WriteRequest (remote-write 1.0: protobuf, snappy block) of ``series``: (labels with
    ``__name__``, [(unix seconds, value or STALE)]) to ``url``/api/v1/write."""
    request = b""
    for labels, samples in series:
        body = b"".join(_bytes(1, _bytes(1, k.encode()) + _bytes(2, v.encode()))  # TimeSeries.labels = 1
                        for k, v in sorted(labels.items()))
        for t, value in samples:  # Sample.value = 1 (double), Sample.timestamp = 2 (ms)
            packed = _STALE_NAN if value is STALE else struct.pack("<d", value)
            sample = b"\x09" + packed + b"\x10" + _varint(round(t * 1000))
            body += _bytes(2, sample)  # TimeSeries.samples = 2
        request += _bytes(1, body)  # WriteRequest.timeseries = 1
    answer = requests.post(f"{url}/api/v1/write", data=bytes(cramjam.snappy.compress_raw(request)), timeout=30,
                           headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                                    "X-Prometheus-Remote-Write-Version": "0.1.0"})
    answer.raise_for_status()
