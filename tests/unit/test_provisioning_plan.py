"""Plan logic (diff, order, prune safety, masking) and the Grafana target's bookkeeping, against the Grafana
look-alike (tests/grafana_lookalike); tests/integration/test_grafana.py runs the same path against a real Grafana.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning import config
from provisioning.alertmanager import build, hide_secrets
from provisioning.plan import CREATE, DELETE, UPDATE, Resource, UnsafePlan, make_plan
from provisioning.render import render

ROOT = Path(__file__).resolve().parents[2]


def test_plan_orders_creates_by_kind_and_deletes_last_in_reverse():
    desired = [Resource("b", "1", "b1", {"x": 1}), Resource("a", "1", "a1", {"x": 1}), Resource("a", "2", "a2", {})]
    live = [Resource("a", "2", "a2", {"old": True}), Resource("b", "9", "gone", {}), Resource("a", "9", "gone", {})]
    plan = make_plan(desired, live, ["a", "b"])
    assert [(c.action, c.resource.kind, c.resource.uid) for c in plan.changes] == [
        (CREATE, "a", "1"), (UPDATE, "a", "2"), (CREATE, "b", "1"), (DELETE, "b", "9"), (DELETE, "a", "9")]


def test_deletes_of_a_delete_first_kind_come_right_before_the_creates_of_their_kind():
    desired = [Resource("a", "1", "a1", {}), Resource("b", "new/1", "b1", {}), Resource("c", "1", "c1", {})]
    live = [Resource("a", "9", "gone", {}), Resource("b", "old/1", "b1", {}), Resource("c", "9", "gone", {})]
    plan = make_plan(desired, live, ["a", "b", "c"], delete_first=["b"])
    assert [(c.action, c.resource.kind, c.resource.uid) for c in plan.changes] == [
        (CREATE, "a", "1"), (DELETE, "b", "old/1"), (CREATE, "b", "new/1"), (CREATE, "c", "1"), (DELETE, "c", "9"),
        (DELETE, "a", "9")]


def test_no_changes_when_bodies_are_equal_in_any_key_order():
    plan = make_plan([Resource("a", "1", "t", {"x": 1, "y": [1, 2]})], [Resource("a", "1", "t", {"y": [1, 2], "x": 1})],
                     ["a"])
    assert plan.changes == []
    assert "no changes" in plan.text()


def test_deleting_too_much_needs_force():
    live = [Resource("a", str(i), "t", {}) for i in range(10)]
    plan = make_plan(live[:5], live, ["a"])
    with pytest.raises(UnsafePlan, match="5 of 10"):
        plan.raise_if_unsafe(0.3, force=False)
    plan.raise_if_unsafe(0.3, force=True)


def test_alertmanager_secrets_never_appear_in_a_plan(tmp_path):
    cfg = config.load(ROOT / "tracklog.yaml")
    env = {"TRACKLOG_ALERT_WEBHOOK_URL": "https://hooks.example/T0/secret-one",
           "TRACKLOG_SLACK_WEBHOOK_URL": "https://hooks.slack.example/T1/secret-two"}
    am = build(cfg, env)
    old = build(cfg, {"TRACKLOG_ALERT_WEBHOOK_URL": "https://hooks.example/T0/old-secret"})
    plan = make_plan([Resource("alertmanager-config", "tracklog", "am", am.body)],
                     [Resource("alertmanager-config", "tracklog", "am", old.body)], ["alertmanager-config"])
    plan.display = hide_secrets
    plan.mask = am.secrets.mask
    text = plan.text()
    for secret in ("secret-one", "secret-two", "old-secret"):
        assert secret not in text
    assert "<secret sha256:" in text


def test_alertmanager_routes_by_severity_and_team_with_a_mute_timing():
    am = build(config.load(ROOT / "tracklog.yaml"), {"TRACKLOG_ALERT_WEBHOOK_URL": "http://x/y"})
    routes = am.body["route"]["routes"]
    assert routes[0] == {"receiver": "oncall-webhook", "matchers": ['severity="critical"']}
    assert routes[1]["matchers"] == ['team="security"']
    assert routes[2]["mute_time_intervals"] == ["maintenance"]
    assert am.body["time_intervals"][0]["name"] == "maintenance"
    assert any("TRACKLOG_SLACK_WEBHOOK_URL is not set" in w for w in am.warnings)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path_factory.mktemp("build"))


def test_grafana_apply_then_plan_has_no_changes_prunes_ours_and_keeps_hand_made(rendered, monkeypatch, grafana):
    monkeypatch.setenv("TRACKLOG_ALERT_WEBHOOK_URL", "http://hook.example/secret")
    cfg = config.load(ROOT / "tracklog.yaml")
    fake = grafana
    target = fake.target(cfg, rendered)
    first = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    first.display = target.display  # as provision.plan() sets it
    assert first.counts()[CREATE] >= 5 + 3 + 1  # dashboards, datasources, folder, ...
    for change in first.changes:
        target.apply(change)
    fake.api.dashboard.update_dashboard({"dashboard": {"uid": "hand-made", "title": "Mine", "tags": []},
                                         "folderUid": "tracklog"})  # made by hand in tracklog's folder
    assert fake.org.contact_points["tl-oncall-webhook"]["settings"]["url"] == "http://hook.example/secret"
    assert "hook.example" not in first.text()
    assert all(d["message"].startswith("tracklog apply (") for uid, d in fake.org.dashboards.items()
               if uid != "hand-made")

    second = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    assert second.changes == [], second.text()

    fewer = dict(rendered.dashboards)
    removed = fewer.pop("troubleshooting.json")
    pruning = fake.target(cfg, type(rendered)(**{**rendered.__dict__, "dashboards": fewer}))
    third = make_plan(pruning.desired(), pruning.live(), pruning.KIND_ORDER)
    assert [(c.action, c.resource.uid) for c in third.changes] == [(DELETE, removed["uid"])]
    for change in third.changes:
        pruning.apply(change)
    assert removed["uid"] not in fake.org.dashboards
    assert "hand-made" in fake.org.dashboards
