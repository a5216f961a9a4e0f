"""The layout of the native stack's state directory: each server's config and data, log and pid file.

Shared by the stack runner (which starts the servers there) and the stack target (which writes the rule files and
the Alertmanager config the running servers read), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """Where a server's rendered config, data, log and pid file live."""

    root: Path

    def of(self, server: str) -> Path:
        return self.root / server

    def log(self, server: str) -> Path:
        return self.root / "logs" / f"{server}.log"

    def pid(self, server: str) -> Path:
        return self.root / "run" / f"{server}.pid"
