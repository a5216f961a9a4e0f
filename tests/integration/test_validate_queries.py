"""provisioning.validate against the real Loki and Prometheus: shipped queries are clean, broken ones are named.

Uses the stack fixture (reused when running, else started for the session).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from provisioning import config
from provisioning.config import Config
from provisioning.render import Rendered, render
from provisioning.validate import substitute, validate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg() -> Config:
    return config.load(ROOT / "tracklog.yaml")


@pytest.fixture(scope="module")
def servers(cfg: Config, stack: object) -> Config:
    return cfg


@pytest.fixture(scope="module")
def rendered(cfg: Config, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(cfg, out_dir=tmp_path_factory.mktemp("build"))


def _panel(rendered: Rendered, dashboard: str, datasource: str) -> tuple[int, dict]:
    """The first panel of ``dashboard`` querying ``datasource``, and its index."""
    panels = rendered.dashboards[dashboard]["panels"]
    return next((i, p) for i, p in enumerate(panels) if p.get("datasource", {}).get("uid") == datasource)


def test_every_shipped_query_validates_clean(servers: Config, rendered: Rendered) -> None:
    problems = validate(servers, rendered)
    assert problems == [], "\n".join(map(str, problems))


def test_broken_logql_and_promql_are_reported_naming_the_panel(servers: Config, rendered: Rendered) -> None:
    dashboards = copy.deepcopy(rendered.dashboards)
    copied = dashboards["api-health.json"]
    prom_index, prom_panel = _panel(rendered, "api-health.json", "prometheus")
    loki_index, loki_panel = _panel(rendered, "api-health.json", "loki")
    copied["panels"][prom_index]["targets"][0]["expr"] = "sum by (service) (rate(http_server_requests_total[5m]"
    copied["panels"][loki_index]["targets"][0]["expr"] = '{service=~".+"} | json | level=~'

    problems = validate(servers, dataclasses.replace(rendered, dashboards=dashboards))

    texts = [str(p) for p in problems]
    assert len(texts) == 2, "\n".join(texts)
    prom = next(t for t in texts if f"panel {prom_panel['title']!r}" in t)
    loki = next(t for t in texts if f"panel {loki_panel['title']!r}" in t)
    assert "api-health.json" in prom
    assert "parse error" in prom
    assert "PromQL" in prom
    assert "api-health.json" in loki
    assert "LogQL parse error" in loki


def test_a_broken_rule_is_reported_by_name_and_by_promtool(servers: Config, rendered: Rendered) -> None:
    rules = copy.deepcopy(rendered.prometheus_rules)
    rules["groups"][0]["rules"][0]["expr"] = "rate(http_server_requests_total[5m] > 1"
    name = rules["groups"][0]["rules"][0]["alert"]

    problems = validate(servers, dataclasses.replace(rendered, prometheus_rules=rules))

    texts = [str(p) for p in problems]
    assert any(name in t and "parse error" in t for t in texts), "\n".join(texts)
    assert any(t.startswith("Prometheus rule file: promtool check rules") for t in texts), "\n".join(texts)


def test_an_unreachable_server_is_one_problem_naming_its_url(
    monkeypatch: pytest.MonkeyPatch, rendered: Rendered
) -> None:
    # Nothing listens on port 9 (discard) of 127.0.0.1 here; this test needs no servers.
    monkeypatch.setenv("TRACKLOG_PROMETHEUS_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TRACKLOG_LOKI_URL", "http://127.0.0.1:9")
    unreachable = config.load(ROOT / "tracklog.yaml")

    problems = validate(unreachable, rendered, timeout=3)

    texts = [str(p) for p in problems]
    assert texts[0].startswith("Prometheus at http://127.0.0.1:9: unreachable"), texts
    assert texts[1].startswith("Loki at http://127.0.0.1:9: unreachable"), texts
    assert len(texts) == 2, texts


def test_static_problems_are_all_collected(monkeypatch: pytest.MonkeyPatch, rendered: Rendered) -> None:
    monkeypatch.setenv("TRACKLOG_PROMETHEUS_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TRACKLOG_LOKI_URL", "http://127.0.0.1:9")
    dashboards = copy.deepcopy(rendered.dashboards)
    dashboards["system.json"]["uid"] = dashboards["security.json"]["uid"]
    dashboards["api-health.json"]["uid"] = "tl-" + "x" * 40
    index, panel = _panel(rendered, "troubleshooting.json", "loki")
    dashboards["troubleshooting.json"]["panels"][index]["datasource"] = {"type": "loki", "uid": "grafanacloud-logs"}

    problems = validate(config.load(ROOT / "tracklog.yaml"), dataclasses.replace(rendered, dashboards=dashboards),
                        timeout=3)

    texts = "\n".join(map(str, problems))
    assert ("dashboard system.json (uid tl-security): uid 'tl-security' is also the uid of "
            "dashboard security.json") in texts
    assert "Grafana allows 40" in texts
    assert f"panel {panel['title']!r}: datasource 'grafanacloud-logs' is not one provisioning creates" in texts


def test_substitute_replaces_only_known_variables() -> None:
    expr = 'sum(rate(x{env=~"$env", s=~"${service:regex}"}[$__rate_interval]))'
    expr += ' | label_format h=`{{ "${1}" }}` [$__range]'
    assert substitute(expr, frozenset({"env", "service"})) == (
        'sum(rate(x{env=~"validate", s=~"validate"}[1m])) | label_format h=`{{ "${1}" }}` [1h]')
