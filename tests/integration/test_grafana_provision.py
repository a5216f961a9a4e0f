"""The user's path, `tracklog apply` and `tracklog plan` (what `make provision` runs), against the real stack and
the Grafana look-alike (tests/grafana_lookalike), on each modelled Grafana version.

The CLI runs in-process with the environment a user sets (TRACKLOG_GRAFANA_URL, GRAFANA_TOKEN); validation runs
against the real Loki and Prometheus. Each look-alike checks every request against Grafana's API spec.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from provisioning import cli, config, provision
from provisioning.grafana.applied import AppliedSecrets
from tests.grafana_lookalike.harness import ADMIN_TOKEN, SLACK_URL, Harness, provision_from_files
from tests.integration.conftest import ROOT

CONFIG = str(ROOT / "tracklog.yaml")


@pytest.fixture
def user_env(stack, grafana: Harness, monkeypatch) -> Iterator[Harness]:
    """The variables a user sets to provision a Grafana; the stack gets the shipped routing back afterwards."""
    monkeypatch.setenv("TRACKLOG_GRAFANA_URL", grafana.url)
    monkeypatch.setenv("GRAFANA_TOKEN", ADMIN_TOKEN)
    yield grafana
    cfg = config.load(ROOT / "tracklog.yaml")
    AppliedSecrets(cfg.stack.state_dir, grafana.url).path.unlink(missing_ok=True)  # this look-alike's, gone with it
    for name in ("TRACKLOG_GRAFANA_URL", "TRACKLOG_SLACK_WEBHOOK_URL", "GRAFANA_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    provision.apply(provision.plan(config.load(ROOT / "tracklog.yaml")), force=True)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--config", CONFIG, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _refused_writes(grafana: Harness) -> list[str]:
    return [f"{r.method} {r.path} -> {r.status}" for r in grafana.lookalike.requests
            if r.method != "GET" and r.status >= 400]


def test_first_apply_is_clean_and_a_second_plan_is_empty(user_env, capsys):
    grafana = user_env
    started = time.perf_counter()
    code, out, err = _run(capsys, "apply")
    first = time.perf_counter() - started
    assert code == 0, out + err
    assert _refused_writes(grafana) == []
    assert grafana.writes, "the first apply wrote nothing"
    assert SLACK_URL not in out + err  # secrets are never printed

    started = time.perf_counter()
    code, out, err = _run(capsys, "plan")
    again = time.perf_counter() - started
    assert code == 0, out
    assert "## grafana\nplan: no changes" in out
    print(f"whole-bundle apply {first:.2f}s, no-change plan {again:.2f}s (Grafana {grafana.grafana.version.name})")

    linked = [r for r in grafana.org.rules.values() if "__dashboardUid__" in r["annotations"]]
    assert linked
    assert all(r["annotations"]["__panelId__"].isdigit() for r in linked)


def test_a_dashboard_edited_in_grafana_is_named_with_its_panel_and_apply_restores_it(user_env, capsys):
    grafana = user_env
    assert _run(capsys, "apply")[0] == 0
    found = grafana.api.dashboard.get_dashboard("tl-api-health")
    edited = found["dashboard"]
    panel = next(p for p in edited["panels"] if p.get("title") == "Error rate (5xx %)")
    panel["targets"][0]["expr"] = "vector(0)"  # someone "fixed" the query in the UI
    grafana.api.dashboard.update_dashboard({"dashboard": edited, "folderUid": "tracklog", "overwrite": True})

    code, out, err = _run(capsys, "plan")
    assert code == 2, out + err
    assert "~ update grafana-dashboard tl-api-health (Tracklog / API health)" in out, out
    assert f"panel {panel['id']} 'Error rate (5xx %)': differs in targets" in out, out

    assert _run(capsys, "apply")[0] == 0
    stored = grafana.org.dashboards["tl-api-health"]["dashboard"]
    restored = next(p for p in stored["panels"] if p["id"] == panel["id"])
    assert restored["targets"][0]["expr"] != "vector(0)"
    assert _run(capsys, "plan")[0] == 0


def test_a_changed_secret_is_detected_and_applied_and_never_printed(user_env, capsys, monkeypatch):
    grafana = user_env
    assert _run(capsys, "apply")[0] == 0
    rotated = SLACK_URL.replace("not-a-real-secret", "rotated-secret")
    monkeypatch.setenv("TRACKLOG_SLACK_WEBHOOK_URL", rotated)

    code, out, err = _run(capsys, "plan")
    assert code == 2
    assert "~ update grafana-contact-point tl-security-slack (security-slack)" in out, out
    assert "rotated-secret" not in out + err
    assert "not-a-real-secret" not in out + err

    assert _run(capsys, "apply")[0] == 0
    assert grafana.org.contact_points["tl-security-slack"]["settings"]["url"] == rotated
    assert _run(capsys, "plan")[0] == 0


def test_a_token_without_rights_gets_the_permission_named_and_nothing_is_written(user_env, capsys, monkeypatch):
    grafana = user_env
    grafana.lookalike.tokens["viewer-token"] = "Viewer"
    monkeypatch.setenv("GRAFANA_TOKEN", "viewer-token")
    code, out, err = _run(capsys, "apply")
    assert code == 1
    assert f"Grafana at {grafana.url} answered 403" in err, err
    assert "Permissions needed:" in err
    assert "Admin role" in err
    assert grafana.writes == []
    assert "change(s) applied" not in out + err


def test_a_grafana_that_is_down_is_named_with_its_url_and_nothing_is_applied(stack, capsys, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed again: nothing listens there
    monkeypatch.setenv("TRACKLOG_GRAFANA_URL", url)
    monkeypatch.setenv("GRAFANA_TOKEN", ADMIN_TOKEN)
    code, out, err = _run(capsys, "apply")
    assert code == 1
    assert f"Grafana at {url} is unreachable" in err, err
    assert "Traceback" not in err
    assert "change(s) applied" not in out + err


def test_with_compose_file_provisioning_apply_leaves_the_files_objects_alone(user_env, capsys, tmp_path):
    grafana = user_env
    cfg = config.load(ROOT / "tracklog.yaml")
    from provisioning.render import render

    render(cfg, out_dir=tmp_path / "compose")
    provision_from_files(grafana, tmp_path / "compose", {"TRACKLOG_SLACK_WEBHOOK_URL": SLACK_URL})
    before = {uid: d["dashboard"]["version"] for uid, d in grafana.org.dashboards.items()}

    code, out, err = _run(capsys, "apply")
    assert code == 0, out + err
    assert "Traceback" not in err
    assert "= grafana-datasource loki (Loki): provisioned from files in the server, matches what tracklog renders" \
        in out, out
    assert "= grafana-dashboard tl-api-health (Tracklog / API health): provisioned from files in the server, matches" \
        in out
    written = {(r.method, r.path) for r in grafana.lookalike.writes()}
    assert not {w for w in written if w[1].startswith("/api/datasources")}, written
    assert {uid: d["dashboard"]["version"] for uid, d in grafana.org.dashboards.items()} == before
    assert grafana.org.templates["tracklog"]["provenance"] == "file"
    assert _refused_writes(grafana) == []
    assert _run(capsys, "plan")[0] == 0


def test_a_datasource_name_taken_by_another_is_named_before_any_write(user_env, capsys):
    grafana = user_env
    grafana.grafana.add_datasource({"name": "Loki", "uid": "P8E80F9AEF21F6940", "type": "loki",
                                    "url": "http://loki.example:3100", "access": "proxy"})
    code, _, err = _run(capsys, "apply")
    assert code == 1
    assert "already has a datasource named 'Loki' (uid P8E80F9AEF21F6940" in err, err
    assert "409" in err
    assert "Traceback" not in err
    assert grafana.writes == []
