"""What a killed Loki 2.2 leaves behind in its boltdb-shipper store, set aside before it starts again.

Loki's filesystem object store writes an index file in place (create, then copy), so a Loki killed while it uploads
its index (the final upload when it stops; a stop that outlasts the runner's patience ends in SIGKILL) leaves an
empty or truncated ``.gz`` in the store. Loki 2.2.1 then panics at every start while loading that table
(``panic: EOF`` in chunkenc.(*GzipPool).GetReader; grafana/loki#5192, still open). The broken file holds nothing
readable; the boltdb file it was uploaded from stays in the active index directory and is uploaded again.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

QUARANTINE = "quarantine"
_SHIPPER_DIRS = ("chunks/index", "boltdb-shipper-cache")  # the store's index tables, and Loki's local copy of them


def broken_index_files(loki_dir: Path) -> list[Path]:
    """The shipper's ``.gz`` index files under ``loki_dir`` that are empty or do not decompress."""
    broken = []
    for sub in _SHIPPER_DIRS:
        for path in sorted((loki_dir / sub).glob("*/*.gz")):
            if not _reads(path):
                broken.append(path)
    return broken


def set_aside_broken_index_files(loki_dir: Path) -> list[str]:
    """Move each broken index file to ``<loki_dir>/quarantine/`` (same relative path); one message per file."""
    messages = []
    for path in broken_index_files(loki_dir):
        relative = path.relative_to(loki_dir)
        target = loki_dir / QUARANTINE / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        size = path.stat().st_size
        path.replace(target)
        messages.append(f"loki: set aside {relative} ({size} bytes, not a whole gzip file: left by a Loki stopped "
                        f"mid-upload; Loki 2.2 panics on it at start, grafana/loki#5192) -> {target}")
    return messages


def _reads(path: Path) -> bool:
    try:
        if path.stat().st_size == 0:
            return False
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error):
        return False
    return True
