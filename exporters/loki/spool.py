"""A disk spool for entries Loki could not take yet: gzip segments written atomically, replayed in order."""

from __future__ import annotations

import fcntl
import gzip
import json
import os
from pathlib import Path

from exporters.files import write_atomic
from exporters.loki.encode import Entry


class SpoolFull(Exception):
    """The spool reached its byte limit."""


class Spool:
    """Segments under one directory that this process has locked, so two processes never replay the same files.

    A directory left by a process that died is unlocked, so the next client with the same name adopts it
    and replays what it holds.
    """

    def __init__(self, base: str | os.PathLike[str], name: str, max_bytes: int = 1 << 30) -> None:
        self.base = Path(base)
        self.name = name
        self.max_bytes = max_bytes
        self.directory: Path | None = None
        self._lock_fd: int | None = None
        self._seq = 0
        self._bytes = 0
        self._segments: list[Path] = []

    @staticmethod
    def _directory(base: Path, name: str, n: int) -> Path:
        return base / (name if n == 0 else f"{name}.{n}")

    @classmethod
    def holds_segments(cls, base: str | os.PathLike[str], name: str) -> bool:
        """Whether a spool of this name under ``base`` (any of its directories) holds segments to replay."""
        for n in range(1000):
            directory = cls._directory(Path(base), name, n)
            if not directory.is_dir():
                return False
            if next(directory.glob("*.seg"), None) is not None:
                return True
        return False

    def _claim(self) -> Path:
        if self.directory is not None:
            return self.directory
        self.base.mkdir(parents=True, exist_ok=True)
        for n in range(1000):
            candidate = self._directory(self.base, self.name, n)
            candidate.mkdir(parents=True, exist_ok=True)
            fd = os.open(candidate / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self._lock_fd, self.directory = fd, candidate
            self._segments = sorted(candidate.glob("*.seg"))
            self._bytes = sum(p.stat().st_size for p in self._segments)
            if self._segments:
                self._seq = int(self._segments[-1].stem) + 1
            return candidate
        raise OSError(f"no free spool directory under {self.base}")

    def open_existing(self) -> int:
        """Claim the directory now and return how many segments it already holds (left by an earlier run)."""
        self._claim()
        return len(self._segments)

    def __len__(self) -> int:
        return len(self._segments)

    @property
    def bytes(self) -> int:
        return self._bytes

    def append(self, entries: list[Entry]) -> Path:
        """Write entries as a new segment (temporary file, fsync, rename)."""
        directory = self._claim()
        payload = gzip.compress(
            "\n".join(json.dumps([list(map(list, e.labels)), e.timestamp_ns, e.line, list(map(list, e.metadata))],
                                 ensure_ascii=False) for e in entries).encode("utf-8"),
            compresslevel=1,
        )
        if self._bytes + len(payload) > self.max_bytes:
            raise SpoolFull(f"spool {directory} holds {self._bytes} bytes, limit {self.max_bytes}")
        path = directory / f"{self._seq:012d}.seg"
        self._seq += 1
        write_atomic(path, payload, durable=True)
        self._segments.append(path)
        self._bytes += len(payload)
        return path

    def oldest(self) -> tuple[Path, list[Entry]] | None:
        """The oldest segment and its entries, or None when empty. Unreadable segments are set aside."""
        while self._segments:
            path = self._segments[0]
            try:
                rows = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
                entries = [
                    Entry(tuple(map(tuple, labels)), int(ts), line, tuple(map(tuple, meta)))
                    for labels, ts, line, meta in map(json.loads, rows)
                ]
            except (OSError, ValueError, EOFError) as exc:
                self._segments.pop(0)
                path.rename(path.with_suffix(".bad"))
                raise CorruptSegment(path, exc) from exc
            return path, entries
        return None

    def remove(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            size = 0
        if path in self._segments:
            self._segments.remove(path)
        self._bytes = max(0, self._bytes - size)

    def release_after_fork(self) -> None:
        """In a forked child: forget the parent's directory (the parent keeps its lock and its files)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
        self._lock_fd, self.directory, self._segments, self._bytes, self._seq = None, None, [], 0, 0

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


class CorruptSegment(Exception):
    def __init__(self, path: Path, cause: Exception) -> None:
        super().__init__(f"spool segment {path} is unreadable ({cause}); moved aside as .bad")
        self.path = path
