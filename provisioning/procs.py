"""Is a process alive? One answer for the stack runner and the archive lock, read from /proc on Linux."""

from __future__ import annotations

import os


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (field 3 onward), or None when unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot, so a reused pid is not mistaken for it ("" if unknown)."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else ""


def alive(pid: int, start: str = "") -> bool:
    """True while ``pid`` runs (a zombie has exited); with ``start``, only if it is still that same process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    if fields is None:
        return True
    if fields[0] == "Z":
        return False
    return not start or start_time(pid) in ("", start)
