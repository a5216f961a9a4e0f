"""Grafana's notification templates, the security folder's permissions, dashboards and alert rule groups per folder:
render -> plan -> apply -> plan against the Grafana look-alike (tests/grafana_lookalike: an HTTP server whose
behaviour comes from Grafana's own evidence), on each modelled Grafana version, and the static checks `validate`
makes."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from provisioning import config, provision
from provisioning.errors import ConfigError
from provisioning.grafana import GrafanaError, GrafanaTarget
from provisioning.plan import CREATE, DELETE, UPDATE, Plan, make_plan
from provisioning.render import Rendered, render
from provisioning.validate import _check_folders, _check_templates, _check_uids, parse_template
from tests.grafana_lookalike.harness import SECURITY_TEAM_ID
from tests.unit.configs import config_with

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path_factory.mktemp("build"))


@pytest.fixture
def cfg() -> config.Config:
    return config.load(ROOT / "tracklog.yaml")


def _plan(target: GrafanaTarget) -> Plan:
    """The plan as `tracklog plan` makes it (provision.plan): the target's kind order and its delete-first kinds."""
    return make_plan(target.desired(), target.live(), target.KIND_ORDER, target.DELETE_FIRST)


def _apply_all(target: GrafanaTarget) -> list[tuple[str, str, str]]:
    plan = _plan(target)
    for change in plan.changes:
        target.apply(change)
    return [(c.action, c.resource.kind, c.resource.uid) for c in plan.changes]


# --- notification templates ------------------------------------------------------------------------------


def test_templates_are_written_before_the_contact_points_that_use_them_and_a_second_plan_is_empty(
        rendered, cfg, grafana):
    fake = grafana
    target = fake.target(cfg, rendered)
    changes = _apply_all(target)

    assert (CREATE, "grafana-template", "tracklog") in changes
    order = [kind for _, kind, _ in changes]
    assert order.index("grafana-template") < order.index("grafana-contact-point")
    assert fake.writes.index("put template tracklog") < min(
        i for i, w in enumerate(fake.writes) if w.startswith("create contact point"))
    # Grafana stores the text trimmed; what is rendered must already be, or every plan would show a change.
    assert fake.org.templates["tracklog"]["template"] == rendered.templates[0]["template"]
    assert fake.org.templates["tracklog"]["provenance"] == "api"  # alerts_editable_in_ui: false locks it in the UI

    again = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    assert again.changes == [], again.text()


def test_contact_points_name_the_templates_in_each_types_own_fields(rendered, cfg, grafana):
    fake = grafana
    _apply_all(fake.target(cfg, rendered))
    title, message = '{{ template "tracklog.title" . }}', '{{ template "tracklog.message" . }}'
    settings = {cp["name"]: (cp["type"], cp["settings"]) for cp in fake.org.contact_points.values()}
    assert settings["oncall-webhook"][0] == "webhook"
    assert (settings["oncall-webhook"][1]["title"], settings["oncall-webhook"][1]["message"]) == (title, message)
    assert (settings["security-slack"][1]["title"], settings["security-slack"][1]["text"]) == (title, message)
    assert (settings["sre-email"][1]["subject"], settings["sre-email"][1]["message"]) == (title, message)


def test_a_changed_template_is_an_update_and_a_removed_one_is_pruned_leaving_hand_made_ones(rendered, cfg, grafana):
    fake = grafana
    fake.org.templates["mine"] = {"name": "mine", "template": '{{ define "mine" }}x{{ end }}', "provenance": ""}
    _apply_all(fake.target(cfg, rendered))

    edited = dataclasses.replace(rendered, templates=[
        {"name": "tracklog", "template": rendered.templates[0]["template"].replace("Runbook:", "Runbook ->")}])
    target = fake.target(cfg, edited)
    plan = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    assert [(c.action, c.resource.uid) for c in plan.changes] == [(UPDATE, "tracklog")]
    lines = plan.text().splitlines()
    assert "    -  {{ with .Annotations.runbook_url }}Runbook: {{ . }}" in lines, plan.text()
    assert "    +  {{ with .Annotations.runbook_url }}Runbook -> {{ . }}" in lines, plan.text()

    fewer = dataclasses.replace(rendered, templates=[])
    target = fake.target(cfg, fewer)
    plan = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    assert [(c.action, c.resource.kind, c.resource.uid) for c in plan.changes if c.action == DELETE] == [
        (DELETE, "grafana-template", "tracklog")]
    for change in plan.changes:
        target.apply(change)
    assert set(fake.org.templates) == {"mine"}


# --- the security folder ---------------------------------------------------------------------------------


def test_the_security_folder_is_opened_to_its_team_only_and_its_dashboard_lands_there(rendered, cfg, grafana):
    fake = grafana
    fake.org.teams["other"] = 9
    target = fake.target(cfg, rendered)
    changes = _apply_all(target)

    assert changes[:3] == [(CREATE, "grafana-folder", "tracklog"), (CREATE, "grafana-folder", "tracklog-security"),
                           (CREATE, "grafana-folder-permissions", "tracklog-security")]
    # Restricted before any dashboard is saved into it.
    assert fake.writes.index("set permissions tracklog-security") < fake.writes.index(
        "save dashboard tl-security in tracklog-security")
    assert fake.org.acl["tracklog-security"] == [{"teamId": SECURITY_TEAM_ID, "permission": 1}]
    assert {"role": "Viewer", "permission": 1} in fake.org.acl["tracklog"]  # the main folder keeps Grafana's defaults
    assert fake.org.dashboards["tl-security"]["folderUid"] == "tracklog-security"
    assert {d["folderUid"] for uid, d in fake.org.dashboards.items() if uid != "tl-security"} == {"tracklog"}
    assert make_plan(target.desired(), target.live(), target.KIND_ORDER).changes == []


def test_plan_shows_the_roles_a_folder_loses_and_the_team_it_gains(rendered, cfg, grafana):
    fake = grafana
    fake.api.folder.create_folder("Delivery tracking / Security", uid="tracklog-security")  # made earlier, by hand
    target = fake.target(cfg, rendered)
    plan = make_plan(target.desired(), target.live(), target.KIND_ORDER)

    change = next(c for c in plan.changes if c.resource.kind == "grafana-folder-permissions")
    assert change.action == UPDATE
    text = plan.text()
    assert "~ update grafana-folder-permissions tracklog-security" in text
    for line in ("    -  role: Viewer", "    -  role: Editor", "    -  user: admin", "    +  team: security"):
        assert line in text.splitlines(), text


def test_the_permission_given_is_configurable(rendered, tmp_path, grafana):
    edit = config_with(tmp_path, r"^(\s*security_permission:)\s*\S+", r"\g<1> Edit")
    again = render(edit, out_dir=tmp_path / "build")
    fake = grafana
    _apply_all(fake.target(edit, again))
    assert fake.org.acl["tracklog-security"] == [{"teamId": SECURITY_TEAM_ID, "permission": 2}]


def test_a_dashboard_in_the_main_folder_is_moved_not_recreated(rendered, cfg, grafana):
    fake = grafana
    old_layout = dataclasses.replace(rendered, dashboard_folders={})  # every dashboard in the main folder
    _apply_all(fake.target(cfg, old_layout))
    assert fake.org.dashboards["tl-security"]["folderUid"] == "tracklog"

    target = fake.target(cfg, rendered)
    plan = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    moves = [c for c in plan.changes if c.resource.kind == "grafana-dashboard"]
    assert [(c.action, c.resource.uid) for c in moves] == [(UPDATE, "tl-security")]
    assert {"    -folderUid: tracklog", "    +folderUid: tracklog-security"} <= set(plan.text().splitlines())
    for change in plan.changes:
        target.apply(change)
    assert fake.org.dashboards["tl-security"]["folderUid"] == "tracklog-security"


def test_a_missing_team_is_a_problem_found_before_any_write(rendered, cfg, monkeypatch, grafana):
    fake = grafana
    fake.org.teams.clear()
    fake.org.teams["secops"] = 5
    target = fake.target(cfg, rendered)
    problems = target.check()
    assert len(problems) == 1
    assert "no team named 'security'" in problems[0]
    assert "grafana.security_team" in problems[0]

    monkeypatch.setenv("TRACKLOG_GRAFANA_URL", fake.url)
    monkeypatch.setenv("GRAFANA_TOKEN", "admin-token")
    monkeypatch.setenv("TRACKLOG_STATE", str(fake.state_dir))
    cfg = config.load(ROOT / "tracklog.yaml")
    monkeypatch.setattr(provision, "validate", lambda config, rendered: [])  # no Loki/Prometheus in unit tests
    monkeypatch.setattr("provisioning.stacktarget.StackTarget.check", lambda self: [])
    with pytest.raises(provision.ValidationFailed, match="no team named 'security'"):
        provision.plan(cfg, out_dir=str(rendered.out_dir))
    assert fake.writes == []


def test_applying_permissions_for_a_team_that_vanished_names_it(rendered, cfg, grafana):
    fake = grafana
    target = fake.target(cfg, rendered)
    plan = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    del fake.org.teams["security"]
    changes = iter(plan.changes)
    for change in changes:
        if change.resource.kind == "grafana-folder-permissions":
            break
        target.apply(change)
    with pytest.raises(GrafanaError, match="no team named 'security'"):
        target.apply(change)
    assert "set permissions tracklog-security" not in fake.writes


def test_without_a_security_team_the_folder_keeps_grafanas_permissions(tmp_path, grafana):
    open_cfg = config_with(tmp_path, r"^(\s*security_team:)\s*\S+", r'\g<1> ""')
    again = render(open_cfg, out_dir=tmp_path / "build")
    fake = grafana
    fake.org.teams.clear()
    target = fake.target(open_cfg, again)
    assert target.check() == []
    changes = _apply_all(target)
    assert not [c for c in changes if c[1] == "grafana-folder-permissions"]
    assert {"role": "Viewer", "permission": 1} in fake.org.acl["tracklog-security"]


# --- Grafana-managed alert rule groups --------------------------------------------------------------------

def _security_rules(rendered: Rendered) -> list[str]:
    """The uids of the security group's rules, in their order."""
    return [rule["uid"] for group in rendered.grafana_alerts if group["title"] == "tracklog-security"
            for rule in group["rules"]]


def _in_folder(rendered: Rendered, title: str, folder: str) -> Rendered:
    """The rendering with rule group `title` in `folder` instead, as an earlier release rendered it."""
    groups = copy.deepcopy(rendered.grafana_alerts)
    for group in groups:
        if group["title"] == title:
            group["folderUID"] = folder
            for rule in group["rules"]:
                rule["folderUID"] = folder
    return dataclasses.replace(rendered, grafana_alerts=groups)


def _hand_made_rule(uid: str, title: str, folder: str, group: str) -> dict:
    return {"uid": uid, "title": title, "condition": "A", "noDataState": "OK", "execErrState": "Error", "for": "5m",
            "orgID": 1, "folderUID": folder, "ruleGroup": group,
            "data": [{"refId": "A", "datasourceUid": "prometheus", "relativeTimeRange": {"from": 600, "to": 0},
                      "model": {"refId": "A", "expr": "vector(1)"}}]}


def test_the_security_rule_group_is_written_to_the_security_folder_after_its_permissions(rendered, cfg, grafana):
    security_rules = _security_rules(rendered)
    fake = grafana
    target = fake.target(cfg, rendered)
    changes = _apply_all(target)

    assert [(a, uid) for a, kind, uid in changes if kind == "grafana-rule-group"] == [
        (CREATE, "tracklog-security/tracklog-security"), (CREATE, "tracklog/tracklog-api"),
        (CREATE, "tracklog/tracklog-pipeline")]
    assert fake.group("tracklog-security", "tracklog-security") == security_rules
    assert fake.group("tracklog", "tracklog-security") == []
    # Never visible to every Viewer: the folder is restricted before the rules land in it.
    assert fake.writes.index("set permissions tracklog-security") < fake.writes.index(
        "put rule group tracklog-security/tracklog-security")
    assert {rule["folderUID"] for uid, rule in fake.org.rules.items() if uid not in security_rules} == {"tracklog"}
    assert _plan(target).changes == []


def test_a_rule_group_removed_from_git_is_pruned_leaving_hand_made_groups_and_other_folders(rendered, cfg, grafana):
    security_rules = _security_rules(rendered)
    fake = grafana
    _apply_all(fake.target(cfg, rendered))
    prov = fake.api.alertingprovisioning
    # Made by hand: a group in tracklog's folder (Grafana's own uids), and one in a folder of someone else's that
    # even carries tracklog's uid prefix (copied from one of ours, say).
    prov.update_rule_group("tracklog", "made-by-hand", {
        "title": "made-by-hand", "interval": 60,
        "rules": [_hand_made_rule("adx7k2", "Mine", "tracklog", "made-by-hand")]})
    fake.api.folder.create_folder("Another team", uid="another-team")
    prov.update_rule_group("another-team", "tracklog-pipeline", {
        "title": "tracklog-pipeline", "interval": 60,
        "rules": [_hand_made_rule("tl-copied-by-hand", "Copied", "another-team", "tracklog-pipeline")]})
    pipeline = fake.group("tracklog", "tracklog-pipeline")
    assert pipeline

    fewer = dataclasses.replace(rendered, grafana_alerts=[
        g for g in rendered.grafana_alerts if g["title"] != "tracklog-pipeline"])
    target = fake.target(cfg, fewer)
    plan = _plan(target)
    assert [(c.action, c.resource.kind, c.resource.uid) for c in plan.changes] == [
        (DELETE, "grafana-rule-group", "tracklog/tracklog-pipeline")]
    assert "- delete grafana-rule-group tracklog/tracklog-pipeline (tracklog-pipeline)" in plan.text()
    for change in plan.changes:
        target.apply(change)

    assert fake.group("tracklog", "tracklog-pipeline") == []
    assert not set(pipeline) & set(fake.org.rules)
    assert fake.group("tracklog", "made-by-hand") == ["adx7k2"]
    assert fake.group("another-team", "tracklog-pipeline") == ["tl-copied-by-hand"]
    assert fake.group("tracklog-security", "tracklog-security") == security_rules
    assert fake.group("tracklog", "tracklog-api")
    assert _plan(target).changes == []


def test_a_rule_group_moving_folders_is_deleted_in_the_old_one_before_it_is_created_in_the_new_one(
        rendered, cfg, grafana):
    security_rules = _security_rules(rendered)
    fake = grafana
    _apply_all(fake.target(cfg, _in_folder(rendered, "tracklog-security", "tracklog")))
    assert fake.group("tracklog", "tracklog-security") == security_rules  # where the security alerts used to be

    target = fake.target(cfg, rendered)
    plan = _plan(target)
    assert [(c.action, c.resource.kind, c.resource.uid) for c in plan.changes] == [
        (DELETE, "grafana-rule-group", "tracklog/tracklog-security"),
        (CREATE, "grafana-rule-group", "tracklog-security/tracklog-security")]
    lines = plan.text().splitlines()
    assert {"- delete grafana-rule-group tracklog/tracklog-security (tracklog-security)",
            "    -folderUid: tracklog",
            "+ create grafana-rule-group tracklog-security/tracklog-security (tracklog-security)",
            "    +folderUid: tracklog-security"} <= set(lines), lines
    for change in plan.changes:
        target.apply(change)

    assert fake.group("tracklog-security", "tracklog-security") == security_rules
    assert fake.group("tracklog", "tracklog-security") == []
    assert fake.writes.index(f"delete alert rule {security_rules[-1]}") < fake.writes.index(
        "put rule group tracklog-security/tracklog-security")
    assert _plan(target).changes == []


def test_creating_the_moved_group_first_would_lose_its_rules(rendered, cfg, grafana):
    """Why rule groups are deleted first: Grafana's PUT takes the rules over by uid, the old group's delete after it
    deletes them by uid again, and the security alerts would be gone from both folders."""
    security_rules = _security_rules(rendered)
    fake = grafana
    _apply_all(fake.target(cfg, _in_folder(rendered, "tracklog-security", "tracklog")))
    target = fake.target(cfg, rendered)
    creates_first = make_plan(target.desired(), target.live(), target.KIND_ORDER)
    assert [c.action for c in creates_first.changes] == [CREATE, DELETE]
    for change in creates_first.changes:
        target.apply(change)
    assert not set(security_rules) & set(fake.org.rules)


def test_rule_uids_must_carry_the_prune_marker_and_groups_a_rendered_folder(rendered, cfg):
    assert _check_uids(rendered) == []
    groups = copy.deepcopy(rendered.grafana_alerts)
    groups[0]["rules"][0]["uid"] = "xx-" + groups[0]["rules"][0]["uid"]
    groups[1]["folderUID"] = "nowhere"
    broken = dataclasses.replace(rendered, grafana_alerts=groups)
    assert any("does not start with 'tl-'" in str(p) for p in _check_uids(broken))
    problems = [str(p) for p in _check_folders(cfg, broken)]
    assert len(problems) == 1
    assert f"alert rule group {groups[1]['title']!r}" in problems[0]
    assert "goes to folder 'nowhere'" in problems[0]


# --- validate: static checks -----------------------------------------------------------------------------


def test_the_shipped_templates_and_folders_are_valid(rendered, cfg):
    assert _check_templates(cfg, rendered) == []
    assert _check_folders(cfg, rendered) == []
    parsed = parse_template(rendered.templates[0]["template"])
    assert {name for name, _ in parsed.defines} >= {"tracklog.title", "tracklog.message"}


@pytest.mark.parametrize(("text", "problem"), [
    ('{{ define "a" }}{{ .Status }', "never closed with }}"),
    ('{{ define "a" }}{{ if .X }}x{{ end }}', '{{ define "a" }} is never closed with {{ end }}'),
    ('{{ define "a" }}{{ end }}{{ end }}', "{{ end }} without"),
    ('{{ define "a" }}{{ else }}{{ end }}', "{{ else }} outside"),
    ('{{ define "a" }}{{ define "b" }}{{ end }}{{ end }}', "must stand at the top level"),
    ('{{ define a }}x{{ end }}', "needs a quoted template name"),
    ('{{ define "a" }}{{ }}{{ end }}', "an empty action"),
])
def test_unbalanced_go_templates_are_found_with_their_line(text, problem):
    parsed = parse_template("\n" + text)
    assert [(line, message) for line, message in parsed.problems if problem in message], parsed.problems
    assert all(line == 2 for line, _ in parsed.problems)


def test_balanced_templates_pass_with_strings_comments_and_trim_markers():
    text = ('{{/* a comment with }} and {{ inside */}}\n{{- define "x.a" -}}\n{{ if eq .Status "}}" }}a{{ else if .B }}'
            "b{{ else }}c{{ end }}{{ range .Alerts }}{{ template `x.b` . }}{{ end }}\n{{- end }}\n"
            '{{ block "x.b" . }}{{ with .X }}{{ . }}{{ end }}{{ end }}')
    parsed = parse_template(text)
    assert parsed.problems == []
    assert [name for name, _ in parsed.defines] == ["x.a", "x.b"]
    assert [name for name, _ in parsed.references] == ["x.b"]


def test_a_contact_point_naming_a_missing_template_is_a_problem_at_its_line(rendered, tmp_path):
    broken = config_with(tmp_path, r"(templates: \{ title: tracklog.title, message: )tracklog.message",
                          r"\g<1>tracklog.mesage")
    problems = [str(p) for p in _check_templates(broken, rendered)]
    assert len(problems) == 1
    line = next(i for i, text in enumerate((tmp_path / "tracklog.yaml").read_text().splitlines(), 1)
                if "tracklog.mesage" in text)
    assert problems[0].startswith(f"{tmp_path / 'tracklog.yaml'}:{line}: contact_points[0] (oncall-webhook)")
    assert "no notification template defines 'tracklog.mesage'" in problems[0]


def test_a_contact_point_with_an_unknown_template_field_is_a_config_error_at_its_line(tmp_path):
    with pytest.raises(ConfigError, match=r"tracklog\.yaml:\d+: contact_points\[0\]\.templates\.subject: unknown"):
        config_with(tmp_path, r"templates: \{ title: tracklog.title,", "templates: { subject: tracklog.title,")


def test_template_groups_need_unique_names_the_marker_and_unique_defines(rendered, cfg):
    shipped = rendered.templates[0]
    groups = [shipped, {"name": "other", "template": '{{ define "tracklog.title" }}x{{ end }}'},
              {"name": "tracklog", "template": '{{ define "default.title" }}x{{ end }}'}]
    problems = [str(p) for p in _check_templates(cfg, dataclasses.replace(rendered, templates=groups))]
    assert any("group 'other'" in p and "must start with 'tracklog'" in p for p in problems), problems
    assert any("'tracklog.title' is also defined in group 'tracklog'" in p for p in problems), problems
    assert any("group 'tracklog'" in p and "used by another template group" in p for p in problems), problems
    assert any("'default.title' would replace one of Grafana's built-in templates" in p for p in problems), problems


def test_a_reference_to_an_undefined_template_of_our_own_namespace_is_a_problem(rendered, cfg):
    text = rendered.templates[0]["template"].replace('template "tracklog.alert"', 'template "tracklog.alrt"', 1)
    problems = [str(p) for p in _check_templates(cfg, dataclasses.replace(
        rendered, templates=[{"name": "tracklog", "template": text}]))]
    assert len(problems) == 1
    assert "uses template 'tracklog.alrt', which no group defines" in problems[0]


def test_folder_checks_name_the_permission_and_a_shared_uid(rendered, tmp_path):
    with pytest.raises(ConfigError, match=r"tracklog\.yaml:\d+: grafana\.security_permission: View or Edit"):
        config_with(tmp_path, r"^(\s*security_permission:)\s*\S+", r"\g<1> Admin")

    (tmp_path / "b").mkdir()
    same = config_with(tmp_path / "b", r"^(\s*security_folder_uid:)\s*\S+", r"\g<1> tracklog")
    problems = [str(p) for p in _check_folders(same, render(same, out_dir=tmp_path / "b" / "build"))]
    assert any("grafana.folder_uid and grafana.security_folder_uid must differ" in p for p in problems), problems


# --- mute timings and the policy tree --------------------------------------------------------------------


def test_a_changed_mute_timing_is_updated_in_place_and_the_tree_keeps_naming_it(rendered, cfg, grafana, tmp_path):
    _apply_all(grafana.target(cfg, rendered))
    assert grafana.org.mutes["maintenance"]["time_intervals"] == [
        {"weekdays": ["sunday"], "times": [{"start_time": "02:00", "end_time": "04:00"}]}]
    later = config_with(tmp_path, r'start: "02:00", end: "04:00"', 'start: "01:00", end: "05:00"')
    target = grafana.target(later, rendered)
    plan = _plan(target)
    assert [(c.action, c.resource.kind, c.resource.uid) for c in plan.changes] == [
        (UPDATE, "grafana-mute-timing", "maintenance")]
    for change in plan.changes:
        target.apply(change)
    assert grafana.org.mutes["maintenance"]["time_intervals"][0]["times"] == [
        {"start_time": "01:00", "end_time": "05:00"}]
    assert grafana.org.mutes["maintenance"]["provenance"] == "api"
    assert "maintenance" in str(grafana.org.tree)
    assert _plan(target).changes == []
