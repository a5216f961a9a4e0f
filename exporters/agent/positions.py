"""Remember how far each file was shipped: a JSON positions file that is replaced atomically, never edited in place.

The file maps a path to ``{"inode", "dev", "offset", "fingerprint"}``. The agent saves a position only after
``LokiClient.flush()`` returned True for every line before that offset, so a restart neither loses nor repeats lines.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from exporters.files import write_atomic


class PositionsError(ValueError):
    """The positions file exists but cannot be read; carries the file's path."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"agent positions file {path}: {reason}; fix or remove it (removing it re-ships every file from the start)"
        )
        self.path = path


@dataclass(frozen=True)
class Position:
    """Where reading resumes in one file: its identity (device, inode, fingerprint of its head) and a byte offset.

    ``fingerprint`` hashes the first ``min(offset, FINGERPRINT_BYTES)`` bytes (see ``tail.py``); those bytes never
    change while the file is only appended to, so a different hash means a new file that reuses the inode.
    """

    dev: int
    inode: int
    offset: int
    fingerprint: str = ""

    def to_json(self) -> dict[str, int | str]:
        return {"inode": self.inode, "dev": self.dev, "offset": self.offset, "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Position:
        """Build a position from its JSON form; raises ValueError/TypeError/KeyError on a malformed entry."""
        values = {key: data[key] for key in ("dev", "inode", "offset")}
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values.values()):
            raise ValueError(f"dev, inode and offset must be non-negative integers, got {values}")
        fingerprint = data.get("fingerprint", "")
        if not isinstance(fingerprint, str):
            raise TypeError(f"fingerprint must be a string, got {fingerprint!r}")
        return cls(dev=values["dev"], inode=values["inode"], offset=values["offset"], fingerprint=fingerprint)  # type: ignore[arg-type]


def load(path: str | os.PathLike[str]) -> dict[str, Position]:
    """Read the positions file; a missing file means nothing was shipped yet.

    Raises:
        PositionsError: the file exists but is not a valid positions file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise PositionsError(path, f"cannot read: {exc.strerror}") from exc
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise TypeError("the top level must be an object of path -> position")
        return {str(key): Position.from_json(value) for key, value in raw.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise PositionsError(path, f"not a valid positions file ({exc})") from exc


def save(path: str | os.PathLike[str], positions: Mapping[str, Position]) -> None:
    """Write every position to a temporary file next to ``path``, fsync it, then rename it over ``path``.

    A crash at any point leaves either the old file or the new one, never a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({key: pos.to_json() for key, pos in sorted(positions.items())}, indent=1).encode("utf-8")
    write_atomic(path, body, durable=True)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); some filesystems refuse, which is harmless."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["Position", "PositionsError", "load", "save"]
