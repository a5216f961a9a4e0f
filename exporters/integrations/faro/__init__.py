"""Grafana Faro's Web SDK as a source of tracklog records: what users do and what breaks in the browser.

Imported only when used, as the other integrations are.
"""

from __future__ import annotations

from exporters.integrations.faro.app import CollectorSettings, FaroCollector
from exporters.integrations.faro.mapping import Record, records
from exporters.integrations.faro.metrics import FaroMetrics

__all__ = ["CollectorSettings", "FaroCollector", "FaroMetrics", "Record", "records"]
