"""`tracklog retention status` against the real Loki: the configured retention next to what Loki applies."""

from __future__ import annotations

import pytest

from provisioning import config
from provisioning.retention import RetentionError, check, status
from tests.integration.conftest import ROOT


def test_status_reads_the_running_loki_and_says_per_type_retention_is_not_applied(stack) -> None:
    cfg = config.load(ROOT / "tracklog.yaml")
    current = status(cfg)
    assert current.loki_version == "2.2.1"  # read from the server, not from stack/versions.env
    assert current.per_stream is False
    assert {t.log_type: t.configured for t in current.types} == {
        "application": "30d", "system": "30d", "audit": "180d", "security": "180d"}
    assert all(t.applied.startswith("not per type") for t in current.types)
    with pytest.raises(RetentionError, match=r"needs Loki 2\.3 or later"):
        check(cfg)


def test_an_unreachable_loki_is_named(monkeypatch) -> None:
    monkeypatch.setenv("TRACKLOG_LOKI_URL", "http://127.0.0.1:9")
    with pytest.raises(RetentionError, match=r"Loki at http://127\.0\.0\.1:9 is unreachable"):
        status(config.load(ROOT / "tracklog.yaml"))
