"""Index files a killed Loki 2.2 leaves broken are set aside before it starts (it would panic on them)."""

from __future__ import annotations

import gzip
from pathlib import Path

from provisioning.stack import servers
from provisioning.stack.lokistate import QUARANTINE, broken_index_files, set_aside_broken_index_files
from provisioning.statepaths import Paths
from tests.unit.configs import ROOT


def _table(loki: Path, sub: str, name: str, data: bytes) -> Path:
    path = loki / sub / "index_20788" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_empty_and_truncated_index_files_are_moved_aside_and_whole_ones_stay(tmp_path: Path) -> None:
    loki = tmp_path / "loki"
    whole = gzip.compress(b"boltdb" * 5000)
    good = _table(loki, "chunks/index", "vm-1-2.gz", whole)
    empty = _table(loki, "chunks/index", "vm-1-3.gz", b"")  # what the CI run's Loki left (0 bytes)
    cut = _table(loki, "boltdb-shipper-cache", "vm-1-4.gz", whole[: len(whole) // 2])
    assert set(broken_index_files(loki)) == {cut, empty}
    messages = set_aside_broken_index_files(loki)
    assert len(messages) == 2
    assert all("grafana/loki#5192" in m for m in messages)
    assert good.read_bytes() == whole
    assert not empty.exists()
    assert not cut.exists()
    assert (loki / QUARANTINE / "chunks/index/index_20788/vm-1-3.gz").exists()
    assert (loki / QUARANTINE / "boltdb-shipper-cache/index_20788/vm-1-4.gz").read_bytes() == whole[: len(whole) // 2]
    assert set_aside_broken_index_files(loki) == []  # nothing left to move


def test_the_native_loki_repairs_its_index_before_it_starts_and_gets_time_to_flush(tmp_path: Path) -> None:
    from provisioning import config

    loki_server = next(s for s in servers.servers(config.load(ROOT / "tracklog.yaml")) if s.name == "loki")
    _table(tmp_path / "loki", "chunks/index", "vm-1-3.gz", b"")
    assert len(loki_server.before_start(Paths(tmp_path))) == 1
    assert loki_server.stop_timeout > 20
