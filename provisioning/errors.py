"""The exceptions of provisioning: one base, subclasses that carry what went wrong."""

from __future__ import annotations


class TracklogError(Exception):
    """Base of every error tracklog reports to its user."""


class ConfigError(TracklogError, ValueError):
    """tracklog.yaml has problems; ``reasons`` lists each with file:line."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("\n".join(self.reasons))


class StackError(TracklogError):
    """A server of the native stack could not be built, started or stopped."""


class RenderError(TracklogError):
    """Jsonnet could not evaluate the dashboards and alerts; ``file`` and ``line`` say where (when known)."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, detail: str = "") -> None:
        self.message = message
        self.file = file
        self.line = line
        self.detail = detail  # the binding's full error text, with its stack trace
        where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        super().__init__(f"{where}{message}")
