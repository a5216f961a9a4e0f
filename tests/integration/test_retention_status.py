"""`tracklog retention status` against the real Loki: the configured retention next to what Loki applies."""

from __future__ import annotations

import pytest

from provisioning import config, render
from provisioning.retention import RetentionError, check, status
from tests.integration.conftest import ROOT, prometheus_query


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


def test_the_dashboard_table_shows_every_retention_rule_as_loki_gets_it(stack, prometheus_url, tmp_path) -> None:
    shipped = (ROOT / "tracklog.yaml").read_text(encoding="utf-8")
    rules = """log_types:
  application:
    retention: 30d
    services: { auth: 90d }
    streams:
      - { selector: '{env=~"dev|test", service!="auth"}', priority: 4, retention: 36h }
"""
    start = shipped.index("log_types:")
    end = shipped.index("\n\n", start)
    (tmp_path / "tracklog.yaml").write_text(shipped[:start] + rules + shipped[end:], encoding="utf-8")
    cfg = config.load(tmp_path / "tracklog.yaml")
    rendered = render.render(cfg, tmp_path / "build")
    table = next(p for p in _panels(rendered.dashboards["logs-retention.json"]["panels"])
                 if p.get("title", "").startswith("Retention rules"))
    rows = prometheus_query(prometheus_url, table["targets"][0]["expr"])
    shown = {(r["metric"]["selector"], int(r["metric"]["priority"]), r["metric"]["retention"], float(r["value"][1]))
             for r in rows}
    assert shown == {(rule.selector, rule.priority, rule.retention, rule.retention_seconds / 86_400)
                     for rule in cfg.retention_rules}
    assert ('{log_type="application", env=~"dev|test", service!="auth"}', 4, "36h", 1.5) in shown


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))
