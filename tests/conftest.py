"""Marks every test under tests/unit as `unit` and under tests/integration as `integration`, and shares the Grafana
look-alike fixture (tests/grafana_lookalike) with both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.grafana_lookalike.harness import grafana

__all__ = ["grafana"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "unit" in parts:
            item.add_marker(pytest.mark.unit)
