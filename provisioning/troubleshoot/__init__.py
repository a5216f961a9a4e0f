"""Troubleshooting from the logs in Loki: search, follow, traces, error fingerprints and performance reports."""

from __future__ import annotations

from provisioning.troubleshoot.errors import TimeRangeError, TraceNotFound
from provisioning.troubleshoot.fingerprint import Fingerprint, fingerprint, template
from provisioning.troubleshoot.records import Record, parse
from provisioning.troubleshoot.stats import Summary, percentile, summarize
from provisioning.troubleshoot.timerange import TimeRange, parse_duration, parse_time, resolve

__all__ = [
    "Fingerprint",
    "Record",
    "Summary",
    "TimeRange",
    "TimeRangeError",
    "TraceNotFound",
    "fingerprint",
    "parse",
    "parse_duration",
    "parse_time",
    "percentile",
    "resolve",
    "summarize",
    "template",
]
