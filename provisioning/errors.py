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
