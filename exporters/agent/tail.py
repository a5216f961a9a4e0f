"""Follow one log file by path: return new complete lines, across rotation by rename and by truncation.

A file is known by ``(st_dev, st_ino)`` plus a fingerprint of its first bytes, so a new file that reuses
an inode is not mistaken for the old one.

- A partial last line waits for its newline (unless it is longer than ``max_line_bytes``).
- Rotation by rename (the path now names another inode): the old file is read to EOF; once it has stopped
  growing for ``rotate_wait`` seconds (writers such as nginx keep writing to it until they reopen), a partial
  last line in it is shipped as is and the new file is read from offset 0.
- Truncation (copytruncate: size < offset, or the head of the file changed): reading restarts at 0.
- Resuming from a saved position whose file was rotated while the agent was down: the old file is looked up
  by inode and fingerprint among its siblings (``access.log.1``, ``access.log-20260101``) and read first.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from exporters.agent.positions import Position

FINGERPRINT_BYTES = 512


class Line(NamedTuple):
    """One complete line (without its newline) and the position just after it."""

    text: str
    position: Position


def fingerprint(head: bytes) -> str:
    """A short hash of a file's first bytes; empty for an empty head."""
    return hashlib.blake2b(head, digest_size=8).hexdigest() if head else ""


class Tailer:
    """Read new complete lines of one file at each ``poll()``; never blocks.

    Args:
        path: the file to follow; it may not exist yet.
        start: where a previous run stopped (from the positions file); ``None`` reads from the start.
        rotate_wait: seconds a renamed-away file must stay unchanged before the new file is read.
        max_line_bytes: a line without a newline that grows past this is shipped in pieces of this size.
        max_read_bytes: at most this many bytes per ``poll()``, so one busy file cannot hold up the others.
        clock: monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        start: Position | None = None,
        *,
        rotate_wait: float = 2.0,
        max_line_bytes: int = 256 * 1024,
        max_read_bytes: int = 1 << 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.rotate_wait = rotate_wait
        self.max_read_bytes = max_read_bytes
        self.max_line_bytes = min(max_line_bytes, max_read_bytes)
        self._clock = clock
        self._start = start
        self._fd: int | None = None
        self._dev = self._ino = 0
        self._offset = 0
        self._head = b""  # the file's first min(offset, FINGERPRINT_BYTES) bytes
        self._full_fingerprint = ""
        self._rotated_at: float | None = None  # set while draining a file that was renamed away
        self._rotated_size = 0
        self.missing = False

    def poll(self) -> list[Line]:
        """Return the complete lines written since the last call (at most ``max_read_bytes`` of them)."""
        if self._fd is None and not self._open():
            return []
        if self._rotated_at is None and self._truncated():
            self._seek(0)
        lines, more = self._read()
        if more:
            return lines
        if self._rotated_at is None:
            self._check_rotation()
        if self._rotated_at is not None:
            lines += self._finish_rotated()
        return lines

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- opening ---------------------------------------------------------------------------------------

    def _open(self) -> bool:
        start, self._start = self._start, None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = None
        if start is not None and start.offset > 0:
            st = os.fstat(fd) if fd is not None else None
            if fd is not None and st is not None and (st.st_dev, st.st_ino) == (start.dev, start.inode):
                if st.st_size >= start.offset and _same_head(fd, start):
                    self._adopt(fd, start.offset)
                    return True
                # Truncated, or a new file reusing the inode: read it from the start (below).
            else:
                old = self._find_rotated(start)
                if old is not None:
                    if fd is not None:
                        os.close(fd)
                    self._adopt(old, start.offset)
                    self._rotated_at, self._rotated_size = self._clock(), os.fstat(old).st_size
                    return True
                if fd is None:
                    self._start = start  # keep it until the path appears: it may be the same file again
        if fd is None:
            self.missing = True
            return False
        self._adopt(fd, 0)
        return True

    def _adopt(self, fd: int, offset: int) -> None:
        st = os.fstat(fd)
        self._fd, self._dev, self._ino = fd, st.st_dev, st.st_ino
        self.missing = False
        self._full_fingerprint = ""
        self._seek(offset)

    def _seek(self, offset: int) -> None:
        fd = self._fd
        assert fd is not None
        self._offset = offset
        self._head = os.pread(fd, min(offset, FINGERPRINT_BYTES), 0) if offset else b""
        self._full_fingerprint = ""

    def _find_rotated(self, start: Position) -> int | None:
        """Find the file a saved position points to among the path's rotated siblings; return an open fd."""
        try:
            siblings = sorted(p for p in self.path.parent.iterdir() if p.name.startswith(self.path.name))
        except OSError:
            return None
        for candidate in siblings:
            if candidate == self.path:
                continue
            try:
                st = candidate.stat()
                if (st.st_dev, st.st_ino) != (start.dev, start.inode) or st.st_size < start.offset:
                    continue
                fd = os.open(candidate, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            if _same_head(fd, start):
                return fd
            os.close(fd)
        return None

    # -- reading ---------------------------------------------------------------------------------------

    def _read(self, final: bool = False) -> tuple[list[Line], bool]:
        """Read complete lines from the offset; ``final`` also returns a last line without newline.

        Returns the lines and whether more bytes are left than this call was allowed to read.
        """
        fd = self._fd
        assert fd is not None
        size = os.fstat(fd).st_size
        want = min(size - self._offset, self.max_read_bytes)
        if want <= 0:
            return [], False
        data = os.pread(fd, want, self._offset)
        more = self._offset + len(data) < size
        end = data.rfind(b"\n") + 1
        if final and not more:
            end = len(data)
        elif end == 0 and len(data) >= self.max_line_bytes:
            end = self.max_line_bytes
        if end == 0:
            return [], False
        head = self._head
        if len(head) < FINGERPRINT_BYTES:
            head = head + data[: FINGERPRINT_BYTES - len(head)]
        lines: list[Line] = []
        pos = 0
        while pos < end:
            newline = data.find(b"\n", pos, end)
            stop = end if newline < 0 else newline + 1
            raw = data[pos:newline] if newline >= 0 else data[pos:stop]
            offset = self._offset + stop
            text = raw.rstrip(b"\r").decode("utf-8", "replace")
            lines.append(Line(text, Position(self._dev, self._ino, offset, self._fingerprint_at(offset, head))))
            pos = stop
        self._offset += end
        self._head = head[: min(self._offset, FINGERPRINT_BYTES)]
        return lines, more

    def _fingerprint_at(self, offset: int, head: bytes) -> str:
        if offset < FINGERPRINT_BYTES:
            return fingerprint(head[:offset])
        if not self._full_fingerprint:
            self._full_fingerprint = fingerprint(head[:FINGERPRINT_BYTES])
        return self._full_fingerprint

    # -- rotation and truncation -----------------------------------------------------------------------

    def _size(self) -> int:
        fd = self._fd
        assert fd is not None
        return os.fstat(fd).st_size

    def _truncated(self) -> bool:
        """The open file shrank below the offset, or its head no longer matches what was read (copytruncate)."""
        if self._size() < self._offset:
            return True
        return bool(self._head) and os.pread(self._fd, len(self._head), 0) != self._head  # type: ignore[arg-type]

    def _check_rotation(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # renamed away and not recreated yet: keep reading the open file
        if (st.st_dev, st.st_ino) != (self._dev, self._ino):
            self._rotated_at, self._rotated_size = self._clock(), self._size()

    def _finish_rotated(self) -> list[Line]:
        """Drain the renamed-away file; once it is quiet, switch to the file now at the path."""
        size = self._size()
        if size != self._rotated_size or self._rotated_at is None:  # its writer has not reopened the path yet
            self._rotated_size, self._rotated_at = size, self._clock()
            return []
        if self._clock() - self._rotated_at < self.rotate_wait:
            return []
        lines, more = self._read(final=True)
        if more:
            return lines
        self.close()
        self._rotated_at = None
        if self._open():
            lines += self._read()[0]
        return lines


def _same_head(fd: int, start: Position) -> bool:
    return fingerprint(os.pread(fd, min(start.offset, FINGERPRINT_BYTES), 0)) == start.fingerprint


__all__ = ["FINGERPRINT_BYTES", "Line", "Tailer", "fingerprint"]
