"""The exceptions of the troubleshooting commands; each is a TracklogError, so the CLI prints it as one line."""

from __future__ import annotations

from provisioning.errors import TracklogError


class TraceNotFound(TracklogError):
    """No record carries the trace id asked for, or a short id is ambiguous."""
