"""Secrets on their way to Grafana, against the look-alike: datasource credentials and tenant headers reach Grafana
(secureJsonData), a changed secret shows in the plan as a changed fingerprint, an unchanged one shows nothing, an
unset one is a problem before any write, and no value is ever printed. Also: objects Grafana keeps locked stay
locked with a warning instead of a failed apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning import config
from provisioning.plan import UPDATE, make_plan
from provisioning.render import render
from tests.unit.configs import config_with

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "loki-pass-1"


@pytest.fixture
def tenant_cfg(tmp_path, monkeypatch) -> config.Config:
    """Loki behind a gateway: a tenant and basic auth, both secrets by variable."""
    monkeypatch.setenv("LOKI_USER", "grafana-reader")
    monkeypatch.setenv("LOKI_PASSWORD", PASSWORD)
    text = (ROOT / "tracklog.yaml").read_text(encoding="utf-8")
    text = text.replace('tenant: ""', "tenant: tracking", 1)
    text = text.replace('username_env: ""', "username_env: LOKI_USER", 1)
    text = text.replace('password_env: ""', "password_env: LOKI_PASSWORD", 1)
    (tmp_path / "tracklog.yaml").write_text(text, encoding="utf-8")
    return config.load(tmp_path / "tracklog.yaml")


def _apply(target) -> None:
    plan = make_plan(target.desired(), target.live(), target.KIND_ORDER, target.DELETE_FIRST)
    for change in plan.changes:
        target.apply(change)


def _plan(target):
    plan = make_plan(target.desired(), target.live(), target.KIND_ORDER, target.DELETE_FIRST)
    plan.display = target.display
    plan.explain = target.explain
    return plan


def test_datasource_credentials_and_the_tenant_header_reach_grafana(grafana, tenant_cfg, tmp_path, monkeypatch):
    rendered = render(tenant_cfg, out_dir=tmp_path / "build")
    target = grafana.target(tenant_cfg, rendered)
    assert target.check() == []
    _apply(target)

    loki = grafana.org.datasources["loki"]
    assert loki["secure"] == {"httpHeaderValue1": "tracking", "basicAuthPassword": PASSWORD}
    assert loki["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
    assert (loki["basicAuth"], loki["basicAuthUser"]) == (True, "grafana-reader")
    answered = grafana.api.datasource.get_datasource_by_uid("loki")
    assert "secureJsonData" not in answered
    assert answered["secureJsonFields"] == {"httpHeaderValue1": True, "basicAuthPassword": True}

    assert _plan(target).changes == []  # Grafana never answers the secrets: the fingerprints say they are the same

    monkeypatch.setenv("LOKI_PASSWORD", "loki-pass-2")
    again = grafana.target(tenant_cfg, rendered)
    plan = _plan(again)
    assert [(c.action, c.resource.uid) for c in plan.changes] == [(UPDATE, "loki")]
    text = plan.text()
    assert "basicAuthPassword: <secret " in text
    assert PASSWORD not in text
    assert "loki-pass-2" not in text
    for change in plan.changes:
        again.apply(change)
    assert grafana.org.datasources["loki"]["secure"]["basicAuthPassword"] == "loki-pass-2"
    assert _plan(again).changes == []


def test_an_unset_secret_variable_is_a_problem_named_before_any_write(grafana, tenant_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("LOKI_PASSWORD")
    monkeypatch.delenv("TRACKLOG_SLACK_WEBHOOK_URL")
    target = grafana.target(tenant_cfg, render(tenant_cfg, out_dir=tmp_path / "build"))
    problems = target.check()
    assert any("secureJsonData.basicAuthPassword names $LOKI_PASSWORD, which is not set" in p for p in problems)
    assert any("contact point security-slack" in p and "$TRACKLOG_SLACK_WEBHOOK_URL is not set" in p
               for p in problems), problems
    assert grafana.writes == []


def test_a_machine_without_the_fingerprints_applies_the_secret_once_then_converges(grafana, tenant_cfg, tmp_path):
    rendered = render(tenant_cfg, out_dir=tmp_path / "build")
    _apply(grafana.target(tenant_cfg, rendered))
    from provisioning.grafana import GrafanaTarget

    elsewhere = GrafanaTarget(tenant_cfg, rendered, api=grafana.api, url=grafana.url, state_dir=tmp_path / "ci")
    plan = _plan(elsewhere)
    assert {c.resource.uid for c in plan.changes} == {"loki", "tl-security-slack"}
    assert "<secret set in Grafana, not applied from here>" in plan.text()
    for change in plan.changes:
        elsewhere.apply(change)
    assert _plan(elsewhere).changes == []


def test_unlocking_alert_objects_keeps_them_locked_with_a_warning(grafana, tmp_path, monkeypatch):
    cfg = config.load(ROOT / "tracklog.yaml")
    rendered = render(cfg, out_dir=tmp_path / "build")
    _apply(grafana.target(cfg, rendered))
    assert grafana.org.contact_points["tl-security-slack"]["provenance"] == "api"

    editable = config_with(tmp_path, r"^(\s*alerts_editable_in_ui:)\s*\S+", r"\g<1> true")
    monkeypatch.setenv("TRACKLOG_SLACK_WEBHOOK_URL", "https://hooks.slack.example/services/T0/B0/rotated")
    target = grafana.target(editable, rendered)
    plan = _plan(target)
    target.notes(plan.changes)
    assert [c.resource.uid for c in plan.changes] == ["tl-security-slack"]
    assert any("stays locked" in w and "tl-security-slack" in w for w in target.warnings), target.warnings
    for change in plan.changes:
        target.apply(change)  # Grafana would answer 500 to api -> none (contactpoints.go); tracklog does not ask
    assert grafana.org.contact_points["tl-security-slack"]["provenance"] == "api"
    assert grafana.org.contact_points["tl-security-slack"]["settings"]["url"].endswith("/rotated")
