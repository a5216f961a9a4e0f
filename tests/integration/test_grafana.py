"""`tracklog apply` into a real Grafana, when one is reachable.

No Grafana runs on our machines: Grafana (AGPL) is neither buildable from the Go module proxy here nor packaged by
the registries we reach, so these tests need TRACKLOG_GRAFANA_URL (and GRAFANA_TOKEN or GRAFANA_USER/PASSWORD)
pointing at one, e.g. the compose stack's. The unreachable-Grafana test needs no Grafana and always runs.
The token needs Grafana's Admin role: apply sets the security folder's permissions and these tests create the
team tracklog.yaml opens it to (grafana.security_team) when it is missing, and delete it again afterwards.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator

import pytest
import requests

from provisioning import config, provision
from provisioning.grafana import GrafanaError, GrafanaTarget
from provisioning.plan import make_plan
from tests.integration.conftest import ROOT

GRAFANA = os.environ.get("TRACKLOG_GRAFANA_URL", "")
needs_grafana = pytest.mark.skipif(
    not GRAFANA,
    reason="no Grafana here: it is AGPL and not available from this machine's registries; set TRACKLOG_GRAFANA_URL "
           "and GRAFANA_TOKEN (e.g. to the docker-compose Grafana) to run the Grafana round trip",
)


def test_an_unreachable_grafana_is_named_with_its_url(monkeypatch, tmp_path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("TRACKLOG_GRAFANA_URL", url)
    monkeypatch.setenv("GRAFANA_TOKEN", "not-a-real-token")
    cfg = config.load(ROOT / "tracklog.yaml")
    from provisioning.render import render

    target = GrafanaTarget(cfg, render(cfg, out_dir=tmp_path))
    with pytest.raises(GrafanaError, match=f"Grafana at {url} is unreachable"):
        target.live()


@pytest.fixture
def grafana_http() -> requests.Session:
    """A session with the credentials tracklog uses, for checking what apply wrote by Grafana's own API."""
    cfg = config.load(ROOT / "tracklog.yaml")
    session = requests.Session()
    token = os.environ.get(cfg.endpoints.grafana.token_env)
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    else:
        session.auth = (os.environ[cfg.endpoints.grafana.username_env], os.environ[cfg.endpoints.grafana.password_env])
    return session


@pytest.fixture
def security_team(grafana_http: requests.Session) -> Iterator[str]:
    """The team tracklog.yaml opens the security folder to, created for the test if this Grafana lacks it."""
    name = config.load(ROOT / "tracklog.yaml").grafana.security_team or "security"
    found = grafana_http.get(f"{GRAFANA}/api/teams/search", params={"name": name}, timeout=10)
    assert found.status_code == 200, found.text
    created = None
    if not [t for t in found.json()["teams"] if t["name"] == name]:
        answer = grafana_http.post(f"{GRAFANA}/api/teams", json={"name": name}, timeout=10)
        assert answer.status_code == 200, answer.text
        created = answer.json()["teamId"]
    yield name
    if created is not None:
        grafana_http.delete(f"{GRAFANA}/api/teams/{created}", timeout=10)


@needs_grafana
def test_apply_round_trip_prune_and_panels_return_data(stack, tmp_path, grafana_http, security_team) -> None:
    cfg = config.load(ROOT / "tracklog.yaml")
    planned = provision.plan(cfg, out_dir=str(tmp_path / "build"))
    provision.apply(planned, force=True)
    again = provision.plan(cfg, out_dir=str(tmp_path / "build"))
    assert not again.has_changes(), again.text()
    target = next(t for t in again.targets if isinstance(t, GrafanaTarget))
    live = {r.key: r for r in target.live()}
    for wanted in target.desired():
        assert live[wanted.key].body == wanted.body

    # Notification templates, and contact points formatting with them.
    rendered = planned.rendered
    for group in rendered.templates:
        stored = grafana_http.get(f"{GRAFANA}/api/v1/provisioning/templates/{group['name']}", timeout=10)
        assert stored.status_code == 200, stored.text
        assert stored.json()["template"] == group["template"]
    points = grafana_http.get(f"{GRAFANA}/api/v1/provisioning/contact-points", timeout=10).json()
    webhook = next(p for p in points if p["name"] == "oncall-webhook")
    assert webhook["settings"]["title"] == '{{ template "tracklog.title" . }}'

    # The security dashboard in its own folder, which only the security team (and admins) may see.
    security_uid = rendered.dashboard_folders["security.json"]
    meta = grafana_http.get(f"{GRAFANA}/api/dashboards/uid/tl-security", timeout=10).json()["meta"]
    assert meta["folderUid"] == security_uid
    acl = grafana_http.get(f"{GRAFANA}/api/folders/{security_uid}/permissions", timeout=10).json()
    managed = [(a.get("team") or a.get("role") or a.get("userLogin"), a["permissionName"]) for a in acl
               if not a.get("inherited") and a.get("role") != "Admin"]
    assert managed == [(security_team, "View")], acl

    hand_made = grafana_http.post(f"{GRAFANA}/api/dashboards/db", timeout=10, json={
        "dashboard": {"uid": "hand-made-test", "title": "Made by hand", "panels": []}, "overwrite": True})
    assert hand_made.status_code == 200, hand_made.text
    fewer = dict(rendered.dashboards)
    removed = fewer.pop("troubleshooting.json")
    pruning = GrafanaTarget(cfg, type(rendered)(**{**rendered.__dict__, "dashboards": fewer}))
    prune_plan = make_plan(pruning.desired(), pruning.live(), pruning.KIND_ORDER, pruning.DELETE_FIRST)
    assert [(c.action, c.resource.uid) for c in prune_plan.changes] == [("delete", removed["uid"])]
    for change in prune_plan.changes:
        pruning.apply(change)
    assert grafana_http.get(f"{GRAFANA}/api/dashboards/uid/hand-made-test", timeout=10).status_code == 200

    # A template group removed from Git is pruned; other template groups are left alone.
    hand_made_template = grafana_http.put(f"{GRAFANA}/api/v1/provisioning/templates/made-by-hand-test", timeout=10,
                                          json={"template": '{{ define "made-by-hand-test" }}x{{ end }}'})
    assert hand_made_template.status_code in (200, 202), hand_made_template.text
    no_templates = GrafanaTarget(cfg, type(rendered)(**{**rendered.__dict__, "templates": []}))
    template_plan = make_plan(no_templates.desired(), no_templates.live(), no_templates.KIND_ORDER)
    assert {(c.action, c.resource.uid) for c in template_plan.changes if c.resource.kind == "grafana-template"} == {
        ("delete", group["name"]) for group in rendered.templates}
    for change in template_plan.changes:
        if change.resource.kind == "grafana-template":
            no_templates.apply(change)
    names = {t["name"] for t in grafana_http.get(f"{GRAFANA}/api/v1/provisioning/templates", timeout=10).json()}
    assert "made-by-hand-test" in names
    assert not names & {group["name"] for group in rendered.templates}
    grafana_http.delete(f"{GRAFANA}/api/v1/provisioning/templates/made-by-hand-test", timeout=10)

    # The security alert rules sit in the security folder; a rule group removed from Git is pruned, a hand-made
    # group in tracklog's folder is left alone.
    groups = f"{GRAFANA}/api/v1/provisioning/folder/{{}}/rule-groups/{{}}"
    assert grafana_http.get(groups.format(security_uid, "tracklog-security"), timeout=10).status_code == 200
    main_uid = target.folder_uid
    query = {"refId": "A", "datasourceUid": "prometheus", "relativeTimeRange": {"from": 600, "to": 0},
             "model": {"refId": "A", "expr": "vector(1)", "instant": True}}
    hand_made_rule = {"uid": "made-by-hand-test", "title": "Made by hand", "folderUID": main_uid,
                      "ruleGroup": "made-by-hand-test", "condition": "A", "data": [query], "noDataState": "OK",
                      "execErrState": "Error", "for": "5m"}
    hand_made_group = grafana_http.put(groups.format(main_uid, "made-by-hand-test"), timeout=10, json={
        "title": "made-by-hand-test", "folderUid": main_uid, "interval": 60, "rules": [hand_made_rule]})
    assert hand_made_group.status_code == 200, hand_made_group.text
    no_pipeline = GrafanaTarget(cfg, type(rendered)(**{**rendered.__dict__, "grafana_alerts": [
        g for g in rendered.grafana_alerts if g["title"] != "tracklog-pipeline"]}))
    group_plan = make_plan(no_pipeline.desired(), no_pipeline.live(), no_pipeline.KIND_ORDER, no_pipeline.DELETE_FIRST)
    group_changes = [c for c in group_plan.changes if c.resource.kind == "grafana-rule-group"]
    assert [(c.action, c.resource.uid) for c in group_changes] == [("delete", f"{main_uid}/tracklog-pipeline")]
    for change in group_changes:
        no_pipeline.apply(change)
    assert grafana_http.get(groups.format(main_uid, "tracklog-pipeline"), timeout=10).status_code == 404
    assert grafana_http.get(groups.format(main_uid, "made-by-hand-test"), timeout=10).status_code == 200
    assert grafana_http.get(groups.format(security_uid, "tracklog-security"), timeout=10).status_code == 200
    grafana_http.delete(f"{GRAFANA}/api/v1/provisioning/alert-rules/made-by-hand-test", timeout=10)


@needs_grafana
def test_a_security_team_grafana_lacks_stops_apply_before_any_write(stack, tmp_path, grafana_http) -> None:
    text = (ROOT / "tracklog.yaml").read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^(\s*security_team:)\s*\S+", r"\g<1> tracklog-no-such-team-test", text)
    assert n == 1
    (tmp_path / "tracklog.yaml").write_text(text, encoding="utf-8")
    cfg = config.load(tmp_path / "tracklog.yaml")
    with pytest.raises(provision.ValidationFailed, match="no team named 'tracklog-no-such-team-test'"):
        provision.plan(cfg, out_dir=str(tmp_path / "build"))
