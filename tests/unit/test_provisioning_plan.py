"""Plan logic (diff, order, prune safety, masking) and the Grafana target's bookkeeping, with a plain in-memory fake.

The fake stands in for grafana-client's GrafanaApi only to test tracklog's own logic; no Grafana process can run
on our machines (see README), and tests/integration/test_grafana.py runs the same path against a real one.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from provisioning import config
from provisioning.alertmanager import build, hide_secrets
from provisioning.grafana import GrafanaTarget
from provisioning.plan import CREATE, DELETE, UPDATE, Resource, UnsafePlan, make_plan
from provisioning.render import render

ROOT = Path(__file__).resolve().parents[2]


def test_plan_orders_creates_by_kind_and_deletes_last_in_reverse():
    desired = [Resource("b", "1", "b1", {"x": 1}), Resource("a", "1", "a1", {"x": 1}), Resource("a", "2", "a2", {})]
    live = [Resource("a", "2", "a2", {"old": True}), Resource("b", "9", "gone", {}), Resource("a", "9", "gone", {})]
    plan = make_plan(desired, live, ["a", "b"])
    assert [(c.action, c.resource.kind, c.resource.uid) for c in plan.changes] == [
        (CREATE, "a", "1"), (UPDATE, "a", "2"), (CREATE, "b", "1"), (DELETE, "b", "9"), (DELETE, "a", "9")]


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


class FakeGrafana:
    """Grafana's HTTP API as dictionaries: just enough state for plan -> apply -> plan."""

    def __init__(self) -> None:
        self.folders: dict[str, dict] = {}
        self.datasources: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}
        self.contact_points: dict[str, dict] = {}
        self.mutes: dict[str, dict] = {}
        self.groups: dict[tuple[str, str], dict] = {}
        self.tree: dict = {"receiver": "grafana-default-email", "group_by": ["grafana_folder"], "routes": []}
        self.messages: list[str] = []
        self.folder = SimpleNamespace(
            get_folder=lambda uid: self._get(self.folders, uid),
            create_folder=lambda title, uid=None: self.folders.__setitem__(uid, {"uid": uid, "title": title}),
            update_folder=lambda uid, title=None, overwrite=False: self.folders[uid].update(title=title),
            delete_folder=lambda uid: self.folders.pop(uid))
        self.datasource = SimpleNamespace(
            get_datasource_by_uid=lambda uid: self._get(self.datasources, uid),
            create_datasource=lambda ds: self.datasources.__setitem__(ds["uid"], dict(ds, id=len(self.datasources))),
            update_datasource_by_uid=lambda uid, ds: self.datasources.__setitem__(uid, dict(ds)),
            delete_datasource_by_uid=lambda uid: self.datasources.pop(uid))
        self.search = SimpleNamespace(search_dashboards=self._search)
        self.dashboard = SimpleNamespace(get_dashboard=lambda uid: {"dashboard": self.dashboards[uid]["dashboard"]},
                                         update_dashboard=self._save_dashboard,
                                         delete_dashboard=lambda uid: self.dashboards.pop(uid))
        self.alertingprovisioning = SimpleNamespace(
            get_contactpoints=lambda: list(self.contact_points.values()),
            create_contactpoint=lambda cp, disable_provenance=False: self.contact_points.__setitem__(cp["uid"], cp),
            update_contactpoint=lambda uid, cp, disable_provenance=False: self.contact_points.__setitem__(uid, cp),
            delete_contactpoint=lambda uid: self.contact_points.pop(uid),
            get_mute_timings=lambda: list(self.mutes.values()),
            create_mute_timing=lambda m, disable_provenance=False: self.mutes.__setitem__(m["name"], m),
            update_mute_timing=lambda name, m: self.mutes.__setitem__(name, m),
            delete_mute_timing=lambda name: self.mutes.pop(name),
            get_notification_policy_tree=lambda: self.tree,
            set_notification_policy_tree=lambda tree, disable_provenance=False: setattr(self, "tree", tree),
            get_rule_group=lambda folder, group: self._get(self.groups, (folder, group)),
            update_rule_group=lambda folder, group, body, disable_provenance=False: self.groups.__setitem__(
                (folder, group), {**body, "rules": [dict(r, id=7, updated="now", provenance="api")
                                                    for r in body["rules"]]}),
            delete_alertrule=lambda uid: None)

    def _get(self, store: dict, key: object) -> dict:
        if key not in store:
            from grafana_client.client import GrafanaClientError

            raise GrafanaClientError(404, None, "not found")
        return store[key]

    def _search(self, tag: str) -> list[dict]:
        return [{"type": "dash-db", "uid": uid, "folderUid": d["folderUid"]} for uid, d in self.dashboards.items()
                if tag in d["dashboard"].get("tags", [])]

    def _save_dashboard(self, payload: dict) -> None:
        dashboard = dict(payload["dashboard"], id=42, version=3)
        self.dashboards[dashboard["uid"]] = {"dashboard": dashboard, "folderUid": payload["folderUid"]}
        self.messages.append(payload["message"])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path_factory.mktemp("build"))


def test_grafana_apply_then_plan_has_no_changes_prunes_ours_and_keeps_hand_made(rendered, monkeypatch):
    monkeypatch.setenv("TRACKLOG_ALERT_WEBHOOK_URL", "http://hook.example/secret")
    cfg = config.load(ROOT / "tracklog.yaml")
    fake = FakeGrafana()
    fake.dashboards["hand-made"] = {"dashboard": {"uid": "hand-made", "title": "Mine", "tags": []},
                                    "folderUid": "tracklog"}
    target = GrafanaTarget(cfg, rendered, api=fake)
    first = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    first.display = target.display  # as provision.plan() sets it
    assert first.counts()[CREATE] >= 5 + 3 + 1  # dashboards, datasources, folder, ...
    for change in first.changes:
        target.apply(change)
    assert fake.contact_points["tl-oncall-webhook"]["settings"]["url"] == "http://hook.example/secret"
    assert "hook.example" not in first.text()
    assert all(m.startswith("tracklog apply (") for m in fake.messages)

    second = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    assert second.changes == [], second.text()

    fewer = dict(rendered.dashboards)
    removed = fewer.pop("troubleshooting.json")
    pruning = GrafanaTarget(cfg, type(rendered)(**{**rendered.__dict__, "dashboards": fewer}), api=fake)
    third = make_plan(pruning.desired(), pruning.live(), pruning.KIND_ORDER)
    assert [(c.action, c.resource.uid) for c in third.changes] == [(DELETE, removed["uid"])]
    for change in third.changes:
        pruning.apply(change)
    assert removed["uid"] not in fake.dashboards
    assert "hand-made" in fake.dashboards
