"""Security and audit logs in their own Loki tenant, against a second, multi-tenant Loki (auth_enabled: true).

The shared stack's Loki is single-tenant, so this module starts its own Loki with the stack's runner (same binary,
same config template with auth turned on, a state directory and ports of its own) and stops it at the end.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from exporters import LokiHandler, schema
from provisioning import config, render
from provisioning.jsonnetconfig import jsonnet_config
from provisioning.plan import CREATE, Change
from provisioning.stack import Stack
from provisioning.stack.servers import Server
from provisioning.stacktarget import StackTarget
from tests.integration.conftest import ROOT, wait_for

TRACKLOG = ROOT / ".venv" / "bin" / "tracklog"
DEFAULT, SECURITY = "app", "security-logs"


class _MultiTenantLoki(Stack):
    """The native stack's Loki with auth_enabled: true in its rendered config (the template is left as it is)."""

    def render(self, server: Server, target: Path | None = None, values: dict[str, str] | None = None) -> Path:
        out = super().render(server, target, values)
        if server.name == "loki":
            path = out / "loki.yaml"
            text = path.read_text(encoding="utf-8")
            assert "auth_enabled: false" in text
            path.write_text(text.replace("auth_enabled: false", "auth_enabled: true", 1), encoding="utf-8")
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tenant_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[config.Config]:
    """A tracklog.yaml whose stack is only the second Loki, with security and audit in their own tenant."""
    root = tmp_path_factory.mktemp("tenants")
    (root / "stack").symlink_to(ROOT / "stack")  # the runner finds the templates and build scripts here
    raw = yaml.safe_load((ROOT / "tracklog.yaml").read_text())
    port = _free_port()
    raw["endpoints"]["loki"].update(url=f"http://127.0.0.1:{port}", tenant=DEFAULT,
                                    tenants={"security": SECURITY, "audit": SECURITY})
    # Its ruler sends alerts to a port nobody serves: never to the shared stack's Alertmanager.
    raw["stack"] = {"state_dir": str(root / "state"),
                    "ports": {"loki": port, "loki_grpc": _free_port(), "alertmanager": _free_port()}}
    raw["agent"] = {"positions_file": str(root / "positions.json"), "sources": []}
    (root / "tracklog.yaml").write_text(yaml.safe_dump(raw))
    with pytest.MonkeyPatch.context() as patch:
        for name in ("TRACKLOG_STATE", "TRACKLOG_LOKI_URL", "TRACKLOG_CONFIG"):
            patch.delenv(name, raising=False)
        cfg = config.load(root / "tracklog.yaml")
        loki = _MultiTenantLoki(cfg, ready_timeout=120)
        loki.up(["loki"])
        try:
            yield cfg
        finally:
            loki.down(["loki"])


def _query(cfg: config.Config, tenant: str | None, query: str) -> list[dict[str, Any]]:
    """Every line of the last 10 minutes matching ``query``, read as ``tenant`` (the JSON records)."""
    end = time.time_ns()
    answer = requests.get(f"{cfg.endpoints.loki.url}/loki/api/v1/query_range", timeout=30,
                          headers={"X-Scope-OrgID": tenant} if tenant else {},
                          params={"query": query, "start": end - 600 * 10**9, "end": end + 10**9, "limit": 1000})
    answer.raise_for_status()
    return [json.loads(line) for stream in answer.json()["data"]["result"] for _, line in stream["values"]]


def _tracklog(cfg: config.Config, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACKLOG_LOKI_URL": cfg.endpoints.loki.url}
    env.pop("TRACKLOG_STATE", None)
    return subprocess.run([str(TRACKLOG), "--config", str(cfg.path), *argv], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


@pytest.fixture(scope="module")
def shipped(tenant_config: config.Config) -> dict[str, str]:
    """Application, security and audit records of one service, pushed through one LokiHandler with tenants."""
    service = f"it-tenants-{uuid.uuid4().hex[:8]}"
    loki = tenant_config.endpoints.loki
    handler = LokiHandler(loki.url, service=service, env="test", tenant=loki.tenant, tenants=loki.tenant_map,
                          batch_max_wait=0.05)
    log = logging.getLogger(f"tests.tenants.{service}")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log.info("courier assigned", extra={"order.id": "o-1"})
        schema.login_attempt(log, user_id="u-1", outcome="failure", reason="bad_password", client_address="10.1.2.3")
        schema.login_attempt(log, user_id="u-1", outcome="success", client_address="10.1.2.3")
        schema.user_action(log, user_id="u-1", action="open_map")
        log.warning("slow response", extra={"http.route": "/track"})
        handler.flush()
        assert [c.tenant for c in handler.router.clients] == [DEFAULT, SECURITY]  # type: ignore[union-attr]
        assert sum(sum(c.stats.dropped.values()) for c in handler.router.clients) == 0  # type: ignore[union-attr]
    finally:
        handler.close()
    selector = f'{{service="{service}"}}'
    wait_for(lambda: len(_query(tenant_config, SECURITY, selector)) == 3 and len(_query(tenant_config, DEFAULT,
                                                                                        selector)) == 2,
             timeout=30, what="the records in both tenants")
    return {"service": service, "selector": selector}


def test_each_log_type_is_found_in_its_tenant_only(tenant_config: config.Config, shipped: dict[str, str]) -> None:
    selector = shipped["selector"]
    in_security = _query(tenant_config, SECURITY, selector)
    in_default = _query(tenant_config, DEFAULT, selector)
    assert sorted(r["log_type"] for r in in_security) == ["audit", "security", "security"]
    assert sorted(r["message"] for r in in_default) == ["courier assigned", "slow response"]
    assert {r["log_type"] for r in in_default} == {"application"}
    assert _query(tenant_config, DEFAULT, shipped["selector"] + ' |= "login"') == []
    assert _query(tenant_config, SECURITY, shipped["selector"] + ' |= "courier"') == []
    refused = requests.get(f"{tenant_config.endpoints.loki.url}/loki/api/v1/labels", timeout=10)
    assert refused.status_code == 401  # this Loki is multi-tenant: nothing without X-Scope-OrgID


def test_audit_verify_reads_the_security_tenant(tenant_config: config.Config, shipped: dict[str, str]) -> None:
    done = _tracklog(tenant_config, "audit", "verify", "--since", "1h", "--service", shipped["service"],
                     "--output", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["records"], report["findings"]) == (3, [])


def test_logs_of_security_read_its_tenant_and_logs_of_all_merge_the_tenants(
        tenant_config: config.Config, shipped: dict[str, str]) -> None:
    service = shipped["service"]
    done = _tracklog(tenant_config, "logs", "--service", service, "--log-type", "security", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert [(r["labels"]["log_type"], r["record"]["message"]) for r in json.loads(done.stdout)] == [
        ("security", "login failure for u-1 (bad_password)"), ("security", "login success for u-1")]

    done = _tracklog(tenant_config, "logs", "--service", service, "--output", "json")
    assert done.returncode == 0, done.stderr
    assert [r["record"]["message"] for r in json.loads(done.stdout)] == [  # every tenant, in the order logged
        "courier assigned", "login failure for u-1 (bad_password)", "login success for u-1", "user u-1 open_map",
        "slow response"]


def test_ruler_rules_on_security_logs_go_to_the_security_tenant(tenant_config: config.Config) -> None:
    output, _ = render.evaluate(jsonnet_config(tenant_config))
    rendered = render.Rendered(out_dir=tenant_config.stack.state_dir, engine="test", seconds=0.0, dashboards={},
                               prometheus_rules={}, loki_rules=output["lokiRules"], grafana_alerts=[], provisioning={},
                               loki_rules_by_tenant=output["lokiRulesByTenant"])
    target = StackTarget(tenant_config, rendered)
    loki_rules = [r for r in target.desired() if r.kind == "loki-rules"]
    assert {r.uid for r in loki_rules} == {f"tracklog@{SECURITY}"}  # every shipped LogQL rule reads security/audit
    for resource in loki_rules:
        target.apply(Change(CREATE, resource, None))
    assert {r.uid for r in target.live() if r.kind == "loki-rules"} == {f"tracklog@{SECURITY}"}

    def groups(tenant: str) -> list[str]:
        answer = requests.get(f"{tenant_config.endpoints.loki.url}/prometheus/api/v1/rules", timeout=10,
                              headers={"X-Scope-OrgID": tenant})
        return [g["name"] for g in answer.json()["data"]["groups"]] if answer.status_code == 200 else []

    wait_for(lambda: groups(SECURITY) == ["tracklog-security"], timeout=40, what="the ruler to load the rules")
    assert groups(DEFAULT) == []


def test_archive_and_restore_of_security_logs_use_the_security_tenant(
        stack: Stack, tenant_config: config.Config, shipped: dict[str, str]) -> None:
    prefix = f"it-tenants-{uuid.uuid4().hex[:8]}"  # in the shared stack's S3 store
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    done = _tracklog(tenant_config, "archive", "--log-type", "security", "--service", shipped["service"],
                     "--since", "1h", "--before", before, "--prefix", prefix, "--output", "json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["lines_written"] == 2  # both login attempts, read from the security tenant

    done = _tracklog(tenant_config, "restore", "--run", run["run_id"], "--prefix", prefix, "--output", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["lines_pushed"] == 2
    restored = shipped["selector"][:-1] + ', restored="true"}'
    wait_for(lambda: len(_query(tenant_config, SECURITY, restored)) == 2, what="the restored lines")
    assert _query(tenant_config, DEFAULT, restored) == []
