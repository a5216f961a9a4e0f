"""`tracklog apply` into a real Grafana, when one is reachable.

No Grafana runs on our machines: Grafana (AGPL) is neither buildable from the Go module proxy here nor packaged by
the registries we reach, so these tests need TRACKLOG_GRAFANA_URL (and GRAFANA_TOKEN or GRAFANA_USER/PASSWORD)
pointing at one, e.g. the compose stack's. The unreachable-Grafana test needs no Grafana and always runs.
"""

from __future__ import annotations

import os
import socket

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


@needs_grafana
def test_apply_round_trip_prune_and_panels_return_data(stack, tmp_path) -> None:
    cfg = config.load(ROOT / "tracklog.yaml")
    planned = provision.plan(cfg, out_dir=str(tmp_path / "build"))
    provision.apply(planned, force=True)
    again = provision.plan(cfg, out_dir=str(tmp_path / "build"))
    assert not again.has_changes(), again.text()
    target = next(t for t in again.targets if isinstance(t, GrafanaTarget))
    live = {r.key: r for r in target.live()}
    for wanted in target.desired():
        assert live[wanted.key].body == wanted.body

    token = os.environ.get(cfg.endpoints.grafana.token_env)
    auth = None if token else (os.environ[cfg.endpoints.grafana.username_env],
                               os.environ[cfg.endpoints.grafana.password_env])
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    hand_made = requests.post(f"{GRAFANA}/api/dashboards/db", auth=auth, headers=headers, timeout=10, json={
        "dashboard": {"uid": "hand-made-test", "title": "Made by hand", "panels": []}, "overwrite": True})
    assert hand_made.status_code == 200, hand_made.text
    rendered = planned.rendered
    fewer = dict(rendered.dashboards)
    removed = fewer.pop("troubleshooting.json")
    pruning = GrafanaTarget(cfg, type(rendered)(**{**rendered.__dict__, "dashboards": fewer}))
    prune_plan = make_plan(pruning.desired(), pruning.live(), pruning.KIND_ORDER)
    assert [(c.action, c.resource.uid) for c in prune_plan.changes] == [("delete", removed["uid"])]
    for change in prune_plan.changes:
        pruning.apply(change)
    assert requests.get(f"{GRAFANA}/api/dashboards/uid/hand-made-test", auth=auth, headers=headers,
                        timeout=10).status_code == 200
