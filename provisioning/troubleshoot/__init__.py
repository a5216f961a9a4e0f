"""Troubleshooting from the logs in Loki: search, follow, traces, error fingerprints and performance reports."""

from __future__ import annotations

from provisioning.troubleshoot.errors import TraceNotFound
from provisioning.troubleshoot.fingerprint import Fingerprint, fingerprint, template
from provisioning.troubleshoot.records import Record, parse
from provisioning.troubleshoot.stats import Summary, percentile, summarize

__all__ = [
    "Fingerprint",
    "Record",
    "Summary",
    "TraceNotFound",
    "fingerprint",
    "parse",
    "percentile",
    "summarize",
    "template",
]
