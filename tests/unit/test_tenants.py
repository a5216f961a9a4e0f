"""Loki tenants per log type: the config, the push router, the handler, the agent, readers, Grafana and the ruler."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path

import pytest

from exporters import LokiHandler, schema
from exporters.agent.main import Agent
from exporters.loki.client import Backoff, LokiClient, close_all
from exporters.loki.labels import label_set
from exporters.loki.router import TenantRouter
from exporters.testing import FakeTransport
from provisioning import config as config_module
from provisioning import render as render_module
from provisioning.agent import agent_settings, build_client, build_router
from provisioning.errors import ConfigError
from provisioning.lokiquery import Entry, LokiReader, TenantsReader, reader_for
from provisioning.validate import tenants as tenant_checks

TENANTS = {"security": "security-logs", "audit": "security-logs"}


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch):
    for name in ("TRACKLOG_STATE", "TRACKLOG_LOKI_URL", "TRACKLOG_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def load(tmp_path: Path, loki: dict, **extra: object) -> config_module.Config:
    (tmp_path / "tracklog.yaml").write_text(json.dumps({"endpoints": {"loki": loki}, **extra}))  # JSON is YAML
    return config_module.load(tmp_path / "tracklog.yaml")


def fake_client(fake: FakeTransport, tenant: str | None = None) -> LokiClient:
    return LokiClient(transport=fake, batch_max_wait=0.02, tenant=tenant)


# -- config ----------------------------------------------------------------------------------------------------------


def test_a_log_type_without_a_tenant_of_its_own_uses_the_default(tmp_path):
    loki = load(tmp_path, {"tenant": "app", "tenants": TENANTS}).endpoints.loki
    assert [loki.tenant_for(t) for t in ("application", "system", "audit", "security", None)] == [
        "app", "app", "security-logs", "security-logs", "app"]
    assert loki.tenant_ids == ("app", "security-logs")
    assert loki.tenant_map == TENANTS


def test_without_tenants_everything_is_the_one_tenant(tmp_path):
    loki = load(tmp_path, {}).endpoints.loki
    assert loki.tenant_for("security") == ""
    assert loki.tenant_ids == ("",)


def test_bad_tenants_are_reported_with_their_lines(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {"tenants": {"secrity": "x", "audit": "a/b", "security": "sec"}})
    text = str(caught.value)
    assert "endpoints.loki.tenants.secrity: unknown log type" in text
    assert "endpoints.loki.tenants.audit: must be a Loki tenant id" in text
    assert "needs endpoints.loki.tenant too" in text  # auth_enabled Loki refuses requests without a tenant


# -- the push router and the handler -----------------------------------------------------------------------------------


def test_router_sends_each_stream_to_the_tenant_of_its_log_type():
    default_fake, security_fake = FakeTransport(), FakeTransport()
    default, security = fake_client(default_fake, "app"), fake_client(security_fake, "sec")
    router = TenantRouter(default, {"security": security, "audit": security})
    for log_type in ("application", "security", "audit", None):
        labels = label_set({"service": "auth", "log_type": log_type})
        assert router.push(labels, time.time_ns(), f"a {log_type} line")
    assert router.flush(5)
    assert sorted(default_fake.lines()) == ["a None line", "a application line"]
    assert sorted(security_fake.lines()) == ["a audit line", "a security line"]
    router.close(1)
    assert default._closed
    assert not security._closed
    security.close(1)


def test_router_makes_a_tenants_client_on_its_first_record_only():
    made: list[str] = []
    fakes: dict[str, FakeTransport] = {}

    def make(tenant: str) -> LokiClient:
        made.append(tenant)
        fakes[tenant] = FakeTransport()
        return fake_client(fakes[tenant], tenant)

    default_fake = FakeTransport()
    router = TenantRouter(fake_client(default_fake, "app"), {"security": "sec", "system": "app"}, make)
    router.push(label_set({"log_type": "system"}), time.time_ns(), "system line")  # the default's own tenant
    assert made == []
    for _ in range(3):
        router.push(label_set({"log_type": "security"}), time.time_ns(), "security line")
    assert made == ["sec"]
    assert router.flush(5)
    assert fakes["sec"].lines() == ["security line"] * 3
    assert default_fake.lines() == ["system line"]
    assert len(router.clients) == 2
    router.close(1)
    assert all(c._closed for c in router.clients)


def test_router_refuses_what_it_cannot_route():
    client = fake_client(FakeTransport())
    with pytest.raises(ValueError, match="'securty' is not a log type"):
        TenantRouter(client, {"securty": "sec"}, lambda t: client)
    with pytest.raises(ValueError, match="need a way to make"):
        TenantRouter(client, {"security": "sec"})
    with pytest.raises(ValueError, match="empty"):
        TenantRouter(client, {"security": ""}, lambda t: client)
    client.close(0)


def test_close_all_takes_one_timeout_not_one_per_client():
    clients = [LokiClient(transport=FakeTransport([503] * 10_000), batch_max_wait=0.01,
                          backoff=Backoff(min_seconds=0.01, max_seconds=0.02)) for _ in range(3)]
    for client in clients:
        client.push(label_set({"log_type": "application"}), time.time_ns(), "never taken")
    started = time.monotonic()
    close_all(clients, 0.4)
    assert time.monotonic() - started < 0.9
    assert all(sum(c.stats.dropped.values()) == 1 for c in clients)  # counted, not lost silently


def test_handler_routes_security_records_and_keeps_the_default_path_for_the_rest():
    app_fake, sec_fake = FakeTransport(), FakeTransport()
    sec = fake_client(sec_fake, "sec")
    handler = LokiHandler(transport=app_fake, service="auth", env="test", batch_max_wait=0.02,
                          tenants={"security": sec})
    log = logging.getLogger("unit.tenants.handler")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    log.info("application record")
    schema.login_attempt(log, user_id="u-1", outcome="failure", reason="bad_password", client_address="10.0.0.1")
    handler.flush()
    assert [json.loads(line)["log_type"] for line in app_fake.lines()] == ["application"]
    assert [json.loads(line)["log_type"] for line in sec_fake.lines()] == ["security"]
    handler.close()
    assert handler.client._closed
    assert not sec._closed
    sec.close(1)


def test_handler_with_tenant_ids_makes_each_tenants_client_with_its_own_spool(tmp_path):
    handler = LokiHandler("http://127.0.0.1:9", service="auth", spool_dir=tmp_path, tenant="app",
                          tenants={"security": "sec", "audit": "sec"}, flush_timeout=0.2)
    assert handler.router is not None
    assert handler.router.clients == [handler.client]
    handler.emit(logging.makeLogRecord({"msg": "x", "levelno": logging.INFO, "levelname": "INFO",
                                        "log_type": "audit"}))
    made = handler.router.clients[1]
    assert (handler.client.tenant, made.tenant) == ("app", "sec")
    handler.close()  # Loki is not there: the line goes to the tenant's own spool, replayed into that tenant
    assert made.stats.spooled == 1
    assert made.spool is not None
    assert made.spool.directory.name == "tracklog-sec"


def test_a_tenants_spool_left_by_an_earlier_process_gets_its_client_at_start(tmp_path):
    record = logging.makeLogRecord({"msg": "x", "levelno": logging.INFO, "levelname": "INFO", "log_type": "audit"})
    first = LokiHandler("http://127.0.0.1:9", service="auth", spool_dir=tmp_path, tenant="app",
                        tenants={"audit": "sec"}, flush_timeout=0.2)
    first.emit(record)
    first.close()  # Loki is not there: the line stays in the tenant's spool
    again = LokiHandler("http://127.0.0.1:9", service="auth", spool_dir=tmp_path, tenant="app",
                        tenants={"audit": "sec"}, flush_timeout=0.2)
    try:
        assert [c.tenant for c in again.router.clients] == ["app", "sec"]  # made now, to replay, not on a record
    finally:
        again.close()
    fresh = LokiHandler("http://127.0.0.1:9", service="auth", spool_dir=tmp_path / "other", tenant="app",
                        tenants={"audit": "sec"}, flush_timeout=0.2)
    try:
        assert [c.tenant for c in fresh.router.clients] == ["app"]
    finally:
        fresh.close()


def test_handler_with_an_injected_transport_cannot_make_tenant_clients():
    with pytest.raises(ValueError, match="tenants"):
        LokiHandler(transport=FakeTransport(), tenants={"security": "sec"})


# -- the agent --------------------------------------------------------------------------------------------------------


def test_agent_ships_each_source_to_the_tenant_of_its_log_type(tmp_path):
    (tmp_path / "app.log").write_text("app line\n")
    (tmp_path / "auth.log").write_text("auth line\n")
    cfg = load(tmp_path, {"tenant": "app", "tenants": TENANTS}, stack={"state_dir": "state"}, agent={
        "positions_file": "state/positions.json",
        "sources": [
            {"name": "web", "path": "app.log", "format": "plain", "labels": {"log_type": "application"}},
            {"name": "sshd", "path": "auth.log", "format": "plain", "labels": {"log_type": "security"}},
        ],
    })
    fakes = {"app": FakeTransport(), "security-logs": FakeTransport()}
    router = TenantRouter(fake_client(fakes["app"], "app"), cfg.endpoints.loki.tenant_map,
                          lambda tenant: fake_client(fakes[tenant], tenant))
    agent = Agent(agent_settings(cfg), router, rotate_wait=0.0)
    agent.poll()
    assert agent.commit(5)
    assert fakes["app"].lines() == ["app line"]
    assert fakes["security-logs"].lines() == ["auth line"]
    agent.close()
    router.close(1)


def test_agent_builds_one_client_per_tenant_with_its_own_spool(tmp_path):
    cfg = load(tmp_path, {"tenant": "app", "tenants": TENANTS}, stack={"state_dir": "state"}, agent={
        "sources": [{"name": "sshd", "path": "auth.log", "labels": {"log_type": "security"}}]})
    router = build_router(cfg)
    try:
        assert sorted((c.tenant, c.spool.name) for c in router.clients) == [  # type: ignore[union-attr]
            ("app", "agent"), ("security-logs", "agent-security-logs")]
    finally:
        router.close(0)


def test_the_agent_reads_lokis_credentials_as_every_command_does(tmp_path, monkeypatch, caplog):
    cfg = load(tmp_path, {"username_env": "LOKI_USER", "password_env": "LOKI_PASSWORD",
                          "bearer_token_env": "LOKI_TOKEN"}, stack={"state_dir": "state"})
    monkeypatch.setenv("LOKI_USER", "shipper")
    monkeypatch.delenv("LOKI_PASSWORD", raising=False)
    monkeypatch.delenv("LOKI_TOKEN", raising=False)

    def authorization() -> str:
        client = build_client(cfg)
        try:
            return client._transport_factory()._headers.get("Authorization", "")  # type: ignore[union-attr]
        finally:
            client.close(0)

    with caplog.at_level(logging.WARNING, logger="tracklog.internal"):
        sent = authorization()
    # A user without a password is still basic auth (Loki behind a proxy may want just a name), as for commands.
    assert cfg.endpoints.loki.credentials() == (("shipper", ""), None)
    assert sent == "Basic " + base64.b64encode(b"shipper:").decode()
    assert "$LOKI_PASSWORD, which is not set" in caplog.text
    monkeypatch.setenv("LOKI_TOKEN", "t0ken-value")
    assert authorization() == "Bearer t0ken-value"  # a set token wins, everywhere
    assert "t0ken-value" not in caplog.text


# -- readers ----------------------------------------------------------------------------------------------------------


def test_reader_for_reads_the_tenants_of_the_log_types_asked_for(tmp_path):
    cfg = load(tmp_path, {"tenant": "app", "tenants": TENANTS})
    one = reader_for(cfg, ["security", "audit"])
    assert isinstance(one, LokiReader)
    assert one.session.headers["X-Scope-OrgID"] == "security-logs"
    every = reader_for(cfg)
    assert isinstance(every, TenantsReader)
    assert [r.tenant for r in every.readers] == ["app", "security-logs"]
    plain = reader_for(load(tmp_path, {}), ["security"])
    assert isinstance(plain, LokiReader)
    assert "X-Scope-OrgID" not in plain.session.headers


class _Tenant:
    def __init__(self, tenant: str, stamps: list[int]) -> None:
        self.tenant, self.url = tenant, "http://loki"
        self.rows = [Entry(ts, f"{tenant} {ts}", {"log_type": tenant}) for ts in stamps]

    def entries(self, query, start_ns, end_ns, page=5000):
        return iter(self.rows)

    def query_range(self, query, start_ns, end_ns, limit=5000, direction="forward", step=None):
        return {"resultType": "streams", "result": [{"stream": {"t": self.tenant}, "values": [["1", "x"]]}]}


def test_several_tenants_read_as_one_in_time_order():
    merged = TenantsReader([_Tenant("app", [1, 4, 6]), _Tenant("sec", [2, 3, 7])])  # type: ignore[list-item]
    assert [e.timestamp_ns for e in merged.entries("{}", 0, 10)] == [1, 2, 3, 4, 6, 7]
    assert [s["stream"]["t"] for s in merged.query_range("{}", 0, 10)["result"]] == ["app", "sec"]


# -- Grafana and the ruler ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("expr", "kept"), [
    ('{log_type="security"} |= "x"', [{"security"}]),
    ('sum(count_over_time({env=~"$env", log_type=~"audit|security"} | json [5m]))', [{"audit", "security"}]),
    ('{service="auth"} | line_format "{{.message}}"', [None]),
    ('{log_type!="security"}', [None]),
    ('{log_type=~"$log_type"}', [None]),
    ('count_over_time({log_type="audit"}[1m]) / count_over_time({service="x"}[1m])', [{"audit"}, None]),
])
def test_the_log_types_a_query_selects(expr, kept):
    assert tenant_checks.selected_log_types(expr) == kept


def _render_with_tenants(tmp_path: Path, loki: str, token_env: str = "") -> tuple[config_module.Config,
                                                                                 render_module.Rendered]:
    shipped = (Path(__file__).resolve().parents[2] / "tracklog.yaml").read_text(encoding="utf-8")
    changed = shipped.replace('    tenant: ""', loki, 1)
    changed = changed.replace('bearer_token_env: ""', f'bearer_token_env: "{token_env}"')
    assert changed != shipped
    (tmp_path / "tracklog.yaml").write_text(changed, encoding="utf-8")
    cfg = config_module.load(tmp_path / "tracklog.yaml")
    return cfg, render_module.render(cfg, tmp_path / "build")


def _loki_uids(dashboard: dict) -> set[str]:
    return {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])
            if t["datasource"]["type"] == "loki"}


def test_grafana_gets_a_datasource_per_tenant_and_queries_read_the_tenant_of_their_log_types(tmp_path, monkeypatch):
    monkeypatch.setenv("T", "x")
    cfg, rendered = _render_with_tenants(
        tmp_path, '    tenant: app\n    tenants: { security: security-logs, audit: security-logs }', token_env="T")
    listed = rendered.provisioning["datasources"]["datasources"]
    base, extra = (next(ds for ds in listed if ds["uid"] == uid) for uid in ("loki", "loki-security-logs"))
    assert (extra["name"], extra["url"]) == ("Loki (security-logs)", base["url"])
    assert "isDefault" not in extra
    assert base["jsonData"]["httpHeaderName1"] == extra["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
    assert base["secureJsonData"]["httpHeaderValue1"] == "app"
    assert extra["secureJsonData"] == {"httpHeaderValue1": "security-logs", "httpHeaderValue2": "Bearer ${T}"}
    security = rendered.dashboards["security.json"]
    by_title = {p["title"]: p for p in security["panels"]}
    stream = by_title["Security log stream"]
    assert stream["datasource"]["uid"] == stream["targets"][0]["datasource"]["uid"] == "loki-security-logs"
    assert by_title["Access violations (HTTP 403, logs)"]["datasource"]["uid"] == "loki"  # application logs
    system = rendered.dashboards["system.json"]
    assert _loki_uids(system) == {"loki"}
    rule = next(r for g in rendered.grafana_alerts for r in g["rules"] if r["title"] == "RepeatedFailedLogins")
    node = next(d for d in rule["data"] if d["refId"] == "A")
    assert node["datasourceUid"] == node["model"]["datasource"]["uid"] == "loki-security-logs"
    # The security dashboard reads one tenant per query, so its variables read where most of it is: no picker.
    assert all(v["name"] != "loki_tenant" for v in security["templating"]["list"])
    assert tenant_checks.check_tenants(cfg, rendered) == []


def test_a_panel_with_targets_of_several_datasources_is_mixed():
    binding = __import__(render_module.ENGINES[render_module.available_engines()[0]])
    panel = json.loads(binding.evaluate_snippet("t", """
        local p = import 'dashboards/lib/panels.libsonnet';
        local c = (import 'dashboards/lib/config.libsonnet')._config
                  + { endpoints+: { loki+: { tenant: 'app', tenants: { security: 'sec' } } } };
        p.timeseries.new('both', [p.loki(c, 'x', logTypes=['security']), p.loki(c, 'y', logTypes=['system'])])
    """, jpathdir=[str(Path(__file__).resolve().parents[2])]))
    assert [t["datasource"]["uid"] for t in panel["targets"]] == ["loki-sec", "loki"]
    assert panel["datasource"] == {"type": "datasource", "uid": "-- Mixed --"}


def test_without_tenants_every_loki_query_reads_the_one_datasource(tmp_path):
    rendered = render_module.render(config_module.load(Path(__file__).resolve().parents[2] / "tracklog.yaml"),
                                    tmp_path / "build")
    assert [ds["uid"] for ds in rendered.provisioning["datasources"]["datasources"] if ds["type"] == "loki"] == ["loki"]
    for dashboard in rendered.dashboards.values():
        assert _loki_uids(dashboard) <= {"loki"}
        assert all(v["name"] != "loki_tenant" for v in dashboard["templating"]["list"])
    assert list(rendered.loki_rules_by_tenant) == [""]


def test_ruler_rules_go_to_the_tenant_of_the_records_they_read(tmp_path):
    _, rendered = _render_with_tenants(tmp_path, '    tenant: app\n    tenants: { audit: audit-logs }')
    by_tenant = {t: sorted(r["alert"] for g in f["groups"] for r in g["rules"])
                 for t, f in rendered.loki_rules_by_tenant.items()}
    assert by_tenant["audit-logs"] == ["AdminPermissionChanged"]
    assert "AdminPermissionChanged" not in by_tenant["app"]
    assert "RepeatedFailedLogins" in by_tenant["app"]
    assert {g["name"] for f in rendered.loki_rules_by_tenant.values() for g in f["groups"]} == {"tracklog-security"}
    every = sorted(r["alert"] for g in rendered.loki_rules["groups"] for r in g["rules"])
    assert sorted(name for names in by_tenant.values() for name in names) == every


def test_a_query_reading_the_wrong_tenant_is_named_by_validate(tmp_path):
    cfg, rendered = _render_with_tenants(tmp_path, '    tenant: app\n    tenants: { security: security-logs }')
    stream = next(p for p in rendered.dashboards["security.json"]["panels"] if p["title"] == "Security log stream")
    stream["targets"][0]["datasource"] = {"type": "loki", "uid": "loki"}  # as if built without logTypes
    rendered.loki_rules_by_tenant["app"] = rendered.loki_rules_by_tenant.pop("security-logs")
    problems = [str(p) for p in tenant_checks.check_tenants(cfg, rendered)]
    assert any("security.json" in p and "'Security log stream'" in p and "security in tenant 'security-logs'" in p
               for p in problems), problems
    assert any("Loki ruler rule 'RepeatedFailedLogins' (tenant 'app')" in p for p in problems), problems


def test_the_shipped_bundle_renders_with_tenants_and_passes_the_static_checks(tmp_path):
    from provisioning import render as render_module
    from provisioning.validate import queries as query_checks
    from provisioning.validate import static as static_checks

    shipped = (Path(__file__).resolve().parents[2] / "tracklog.yaml").read_text(encoding="utf-8")
    tenants = '    tenant: platform\n    tenants: { security: security-logs }'
    with_tenants = shipped.replace('    tenant: ""', tenants, 1)
    assert with_tenants != shipped
    (tmp_path / "tracklog.yaml").write_text(with_tenants, encoding="utf-8")
    cfg = config_module.load(tmp_path / "tracklog.yaml")
    rendered = render_module.render(cfg, tmp_path / "build")
    uids = [ds["uid"] for ds in rendered.provisioning["datasources"]["datasources"]]
    assert "loki-security-logs" in uids
    security = rendered.dashboards["security.json"]
    assert any(ref == "loki-security-logs" for _, ref in static_checks._datasource_refs(security))
    assert static_checks._check_datasources(rendered) == []
    languages = {q.where: q.language for q in query_checks._queries(rendered)}
    assert any("security.json" in where and lang == "logql" for where, lang in languages.items())

    # Troubleshooting searches whatever log type its user picks, so its user picks the tenant too.
    troubleshooting = rendered.dashboards["troubleshooting.json"]
    variables = troubleshooting["templating"]["list"]
    assert variables[0]["name"] == "loki_tenant"
    assert variables[0]["current"]["value"] == "loki"  # the default tenant until someone picks another
    refs = {ref for _, ref in static_checks._datasource_refs(troubleshooting["panels"])}
    assert refs == {"${loki_tenant}"}
    assert {_ref(v) for v in variables if v.get("type") == "query"} == {"${loki_tenant}"}
    assert any("troubleshooting.json" in where and lang == "logql" for where, lang in languages.items())
    # Log volume reads every log type, so it picks the tenant too; a per-log-type panel keeps its own tenant.
    volume = rendered.dashboards["logs-retention.json"]
    assert volume["templating"]["list"][0]["name"] == "loki_tenant"
    assert "loki-security-logs" in _loki_uids(volume)
    assert [name for name, d in sorted(rendered.dashboards.items())
            if any(v["name"] == "loki_tenant" for v in d["templating"]["list"])] == [
        "logs-retention.json", "troubleshooting.json"]
    assert tenant_checks.check_tenants(cfg, rendered) == []


def _ref(variable: dict) -> str:
    ds = variable.get("datasource")
    return ds.get("uid") if isinstance(ds, dict) else ds


def test_configure_takes_the_tenants_from_the_environment(monkeypatch, tmp_path):
    import exporters

    monkeypatch.setenv("TRACKLOG_LOKI_TENANT", "platform")
    monkeypatch.setenv("TRACKLOG_LOKI_TENANTS", " security=security-logs , audit=security-logs,")
    target = logging.getLogger(f"configure-{time.time_ns()}")
    handler = exporters.configure("api", logger=target, metrics=False, spool=False)
    try:
        assert handler.router is not None
        assert handler.client.tenant == "platform"
        assert exporters.tenants_from_env() == {"security": "security-logs", "audit": "security-logs"}
    finally:
        target.removeHandler(handler)
        handler.close()


@pytest.mark.parametrize("bad", ["security", "=x", "security="])
def test_a_malformed_tenants_variable_is_refused(bad):
    import exporters

    with pytest.raises(ValueError, match="log_type=tenant"):
        exporters.tenants_from_env(bad)


def test_self_metrics_tell_the_tenants_clients_apart():
    from prometheus_client import CollectorRegistry, generate_latest

    from exporters import selfmetrics

    registry = CollectorRegistry()
    selfmetrics.register(registry)
    clients = [fake_client(FakeTransport()), fake_client(FakeTransport(), tenant="security-logs")]
    try:
        text = generate_latest(registry).decode()
        names = {line.split('client="')[1].split('"')[0] for line in text.splitlines()
                 if line.startswith("tracklog_loki_queue_depth{")}
        assert f"client-{id(clients[1]):x}-security-logs" in names
        assert f"client-{id(clients[0]):x}" in names
    finally:
        for c in clients:
            c.close(1)


def test_loki_credentials_come_from_the_named_variables_and_a_token_wins(tmp_path, monkeypatch):
    cfg = load(tmp_path, {"tenant": "app", "username_env": "T_USER", "password_env": "T_PASS",
                          "bearer_token_env": "T_TOKEN"})
    for name in ("T_USER", "T_PASS", "T_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert cfg.endpoints.loki.credentials() == (None, None)
    monkeypatch.setenv("T_USER", "ann")
    assert cfg.endpoints.loki.credentials() == (("ann", ""), None)
    monkeypatch.setenv("T_PASS", "pw")
    assert cfg.endpoints.loki.credentials() == (("ann", "pw"), None)
    monkeypatch.setenv("T_TOKEN", "tok")
    assert cfg.endpoints.loki.credentials() == (None, "tok")
