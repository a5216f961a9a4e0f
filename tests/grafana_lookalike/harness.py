"""The look-alike as tests use it: started per test for a Grafana version, with a real grafana-client on it, and
its successful writes described in words ("put rule group tracklog/tracklog-api") for order assertions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.grafana_lookalike import evidence
from tests.grafana_lookalike.server import Lookalike, Recorded
from tests.grafana_lookalike.state import Grafana

VERSIONS = ("11.3.0", "12.0.0")  # the compose file's Grafana, and the current major (keep_firing_for, ...)
ADMIN_TOKEN = "admin-token"
SECURITY_TEAM_ID = 3


class Harness:
    def __init__(self, lookalike: Lookalike, state_dir: Path) -> None:
        self.lookalike = lookalike
        self.grafana = lookalike.grafana
        self.org = lookalike.grafana.org
        self.url = lookalike.url
        self.state_dir = state_dir
        from grafana_client import GrafanaApi

        self.api = GrafanaApi.from_url(lookalike.url, credential=ADMIN_TOKEN, timeout=(5, 30))

    def target(self, cfg: Any, rendered: Any) -> Any:
        from provisioning.grafana import GrafanaTarget

        return GrafanaTarget(cfg, rendered, api=self.api, url=self.url, state_dir=self.state_dir)

    def group(self, folder: str, title: str) -> list[str]:
        return self.grafana.group_uids(folder, title)

    @property
    def writes(self) -> list[str]:
        return [_describe(r) for r in self.lookalike.writes()]

    @property
    def violations(self) -> list[str]:
        return self.lookalike.violations


def _describe(r: Recorded) -> str:
    parts = r.path.split("/")
    body = r.body if isinstance(r.body, dict) else {}
    if r.path == "/api/folders" and r.method == "POST":
        return f"create folder {body.get('uid')}"
    if r.path.endswith("/permissions"):
        return f"set permissions {parts[3]}"
    if r.path == "/api/dashboards/db":
        return f"save dashboard {body.get('dashboard', {}).get('uid')} in {body.get('folderUid')}"
    if "/rule-groups/" in r.path:
        return f"{r.method.lower()} rule group {parts[5]}/{parts[7]}"
    if r.path.startswith("/api/v1/provisioning/alert-rules/") and r.method == "DELETE":
        return f"delete alert rule {parts[-1]}"
    if r.path.startswith("/api/v1/provisioning/templates/"):
        return f"{'put' if r.method == 'PUT' else 'delete'} template {parts[-1]}"
    if r.path.startswith("/api/v1/provisioning/contact-points"):
        verb = {"POST": "create", "PUT": "update", "DELETE": "delete"}[r.method]
        return f"{verb} contact point {body.get('uid') or parts[-1]}"
    return f"{r.method} {r.path}"


def start(version: str, tmp_path: Path, teams: dict[str, int] | None = None) -> Harness:
    if evidence.reference_dir() is None:
        pytest.skip(evidence.MISSING)
    grafana = Grafana(version)
    grafana.org.teams.update(teams if teams is not None else {"security": SECURITY_TEAM_ID})
    return Harness(Lookalike(grafana).start(), tmp_path / "state")


SLACK_URL = "https://hooks.slack.example/services/T0000/B0000/not-a-real-secret"


@pytest.fixture(params=VERSIONS, ids=[f"grafana-{v}" for v in VERSIONS])
def grafana(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """A look-alike of each modelled Grafana version, with the security team; no request may depart from the spec.

    The Slack contact point's URL (a secret, by environment variable) is set: Grafana refuses a Slack contact point
    without one."""
    monkeypatch.setenv("TRACKLOG_SLACK_WEBHOOK_URL", SLACK_URL)
    harness = start(request.param, tmp_path)
    yield harness
    harness.lookalike.stop()
    assert harness.violations == [], "\n".join(harness.violations)


def provision_from_files(harness: Harness, rendered_dir: Path, env: dict[str, str]) -> None:
    """Load what docker-compose mounts into /etc/grafana/provisioning, as Grafana's file provisioning does at start.

    - datasources (pkg/services/provisioning/datasources): each is created with readOnly = !editable, its
      ``$VAR``/``${VAR}`` values expanded from Grafana's environment (docs: administration/provisioning);
    - dashboards (pkg/services/provisioning/dashboards, file reader): each provider's folder is created by uid and
      title and its dashboards saved into it, marked provisioned (GET answers meta.provisioned: true);
    - alerting templates (pkg/services/provisioning/alerting): stored with provenance "file".
    """
    import re

    import yaml

    def expand(value: object) -> object:
        if isinstance(value, str):
            return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), value)
        if isinstance(value, dict):
            return {k: expand(v) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value

    g = harness.grafana
    base = rendered_dir / "grafana" / "provisioning"
    with g.lock:
        for ds in yaml.safe_load((base / "datasources" / "tracklog.yaml").read_text())["datasources"]:
            g.add_datasource(expand(ds), read_only=not ds.get("editable", False))  # type: ignore[arg-type]
        for provider in yaml.safe_load((base / "dashboards" / "tracklog.yaml").read_text())["providers"]:
            if provider["folderUid"] not in g.org.folders:
                g.create_folder({"uid": provider["folderUid"], "title": provider["folder"]})
            for path in sorted(Path(provider["options"]["path"]).glob("*.json")):
                import json

                g.save_dashboard({"dashboard": json.loads(path.read_text()), "folderUid": provider["folderUid"],
                                  "overwrite": True}, provisioned=True)
        for template in yaml.safe_load((base / "alerting" / "tracklog-templates.yaml").read_text())["templates"]:
            g.put_template(template["name"], {"template": template["template"]}, disable_provenance=False)
            g.org.templates[template["name"]]["provenance"] = "file"
