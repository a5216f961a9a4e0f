"""The native stack as a target: Prometheus and Loki rule files and Alertmanager's routing, written then reloaded.

A server counts as the native stack's when tracklog.yaml's endpoint is the stack's own URL; for servers run
elsewhere, plan says which rendered file to load there instead. Loki's ruler reads rules/<tenant>/: on a Loki with
auth_enabled, each rule goes to the tenant of the log types it queries (``endpoints.loki.tenants``).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import requests
import yaml

from exporters.files import write_atomic
from provisioning import alertmanager
from provisioning.config import Config
from provisioning.errors import TracklogError
from provisioning.plan import DELETE, Change, Resource
from provisioning.render import Rendered
from provisioning.statepaths import Paths

KIND_ORDER = ("prometheus-rules", "loki-rules", "alertmanager-config")
LOKI_TENANT = "fake"  # Loki's tenant when auth_enabled is false
LOKI_RULES = "tracklog.rules.yaml"  # in the ruler's rules/<tenant>/
AM_APPLIED = "applied.yml"  # the stack starts Alertmanager with this file when it exists (see stack/servers.py)


class ApplyError(TracklogError):
    """A server refused what apply wrote (a failed reload names the server and its answer)."""


class StackTarget:
    name = "stack"

    def __init__(self, config: Config, rendered: Rendered, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.rendered = rendered
        self.paths = Paths(config.stack.state_dir)
        self.am = alertmanager.build(config, env)
        self.warnings = list(self.am.warnings)
        ports = config.stack.ports
        self.native = {
            "prometheus-rules": config.endpoints.prometheus == f"http://127.0.0.1:{ports['prometheus']}",
            "loki-rules": config.endpoints.loki.url == f"http://127.0.0.1:{ports['loki']}",
            "alertmanager-config": config.endpoints.alertmanager == f"http://127.0.0.1:{ports['alertmanager']}",
        }
        outside = {"prometheus-rules": "rules/prometheus/tracklog.rules.yaml into its rule_files",
                   "loki-rules": "rules/loki/tracklog.rules.yaml into its ruler storage",
                   "alertmanager-config": "the Alertmanager config `tracklog render` prints"}
        for kind, native in self.native.items():
            if not native:
                self.warnings.append(f"{kind}: the endpoint is not tracklog's native stack; load "
                                     f"{rendered.out_dir}/{outside[kind]} there")

    @staticmethod
    def display(body: object) -> object:
        return alertmanager.hide_secrets(body)

    def files(self) -> dict[str, Path]:
        return {
            "prometheus-rules": self.paths.of("prometheus") / "rules" / "tracklog.rules.yaml",
            "loki-rules": self._loki_file(self._loki_dir(self.config.endpoints.loki.tenant)),
            "alertmanager-config": self.paths.of("alertmanager") / AM_APPLIED,
        }

    def desired(self) -> list[Resource]:
        bodies = {
            "prometheus-rules": ("Prometheus alert rules", self.rendered.prometheus_rules),
            "loki-rules": ("Loki ruler alert rules", self.rendered.loki_rules),
            "alertmanager-config": ("Alertmanager receivers, routes and mute timings", self.am.body),
        }
        found = []
        for kind, (title, body) in bodies.items():
            if kind == "loki-rules" and self.native[kind]:
                for tenant_dir, rules in self._loki_rules().items():
                    uid = self._loki_uid(tenant_dir)
                    found.append(Resource(kind, uid, title if uid == "tracklog" else f"{title} (tenant {tenant_dir})",
                                          rules))
            elif self.native[kind]:
                found.append(Resource(kind, "tracklog", title, body))
        return found

    def live(self) -> list[Resource]:
        found = []
        for kind, path in self.files().items():
            if kind == "loki-rules" and self.native[kind]:
                for tenant_path in sorted((self.paths.of("loki") / "rules").glob(f"*/{LOKI_RULES}")):
                    found.append(Resource(kind, self._loki_uid(tenant_path.parent.name), tenant_path.name,
                                          yaml.safe_load(tenant_path.read_text()) or {}))
            elif self.native[kind] and path.exists():
                found.append(Resource(kind, "tracklog", path.name, yaml.safe_load(path.read_text()) or {}))
        return found

    # -- Loki's ruler: one rule file per tenant directory ---------------------------------------------------------

    @functools.cached_property
    def _loki_auth_enabled(self) -> bool:
        """Whether the native Loki runs multi-tenant: its rendered config (or the stack's template) says so; read
        once per target, as every rule file's path and uid depends on it."""
        for path in (self.paths.of("loki") / "loki.yaml", self.config.root / "stack" / "loki" / "loki.yaml"):
            if path.exists():
                found = re.search(r"^auth_enabled:\s*(\w+)", path.read_text(encoding="utf-8"), re.MULTILINE)
                return bool(found) and found.group(1).lower() == "true"
        return False

    def _loki_dir(self, tenant: str) -> str:
        """The rules/<dir> the ruler evaluates as ``tenant``: every rule is the single tenant's without auth."""
        return (tenant or LOKI_TENANT) if self._loki_auth_enabled else LOKI_TENANT

    def _loki_file(self, tenant_dir: str) -> Path:
        return self.paths.of("loki") / "rules" / tenant_dir / LOKI_RULES

    def _loki_uid(self, tenant_dir: str) -> str:
        # The default tenant's file keeps the uid it had before tenants existed, so plans of single-tenant
        # setups read as they did.
        default = self._loki_dir(self.config.endpoints.loki.tenant)
        return "tracklog" if tenant_dir == default else f"tracklog@{tenant_dir}"

    def _loki_rules(self) -> dict[str, dict]:
        """Rule file per tenant directory: each rule where the records it reads are (alerts/alerts.libsonnet)."""
        if not self._loki_auth_enabled:
            return {LOKI_TENANT: self.rendered.loki_rules}
        return {self._loki_dir(tenant): rules for tenant, rules in self.rendered.loki_rules_by_tenant.items()}

    def check(self) -> list[str]:
        """Problems with what would be written, found before anything is: amtool checks the Alertmanager config."""
        amtool = shutil.which("amtool")
        if amtool is None or not self.native["alertmanager-config"]:
            return []
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
            yaml.safe_dump(self.am.body, handle)
        try:
            result = subprocess.run([amtool, "check-config", handle.name], capture_output=True, text=True,
                                    check=False)
        finally:
            os.unlink(handle.name)
        if result.returncode != 0:
            return [f"alertmanager config: {self.am.secrets.mask(result.stdout + result.stderr).strip()}"]
        return []

    def apply(self, change: Change) -> None:
        kind = change.resource.kind
        uid = change.resource.uid
        path = self._loki_file(uid.partition("@")[2]) if kind == "loki-rules" and "@" in uid else self.files()[kind]
        text = yaml.safe_dump(change.desired.body, sort_keys=False, allow_unicode=True, width=120) \
            if change.desired is not None else None
        if change.action == DELETE or text is None:
            path.unlink(missing_ok=True)
        else:
            _write(path, text)
        if kind == "alertmanager-config":
            # The running Alertmanager re-reads the file it was started with: the template until a restart
            # (after which the stack starts it with applied.yml). Keep that file equal too.
            template = self.paths.of("alertmanager") / "alertmanager.yml"
            if text is not None:
                _write(template, text)
            # Deleted (tracklog.yaml has no routing any more): the template keeps the last config until the stack
            # restarts Alertmanager, which then renders its own template again (`tracklog stack up`).
        if kind == "prometheus-rules":
            self._reload("Prometheus", self.config.endpoints.prometheus)
        elif kind == "alertmanager-config":
            self._reload("Alertmanager", self.config.endpoints.alertmanager)
        # Loki's ruler re-reads its local rule directory every poll_interval (10 s in stack/loki/loki.yaml).

    def _reload(self, server: str, url: str) -> None:
        try:
            answer = requests.post(f"{url}/-/reload", timeout=15)
        except requests.RequestException as exc:
            raise ApplyError(f"{server} at {url} did not answer the reload ({type(exc).__name__}); "
                             f"is the stack up? (`tracklog stack status`)") from exc
        if answer.status_code != 200:
            raise ApplyError(f"{server} at {url} refused the new config: {answer.status_code} "
                             f"{self.am.secrets.mask(answer.text.strip())[:500]}")


def _write(path: Path, text: str) -> None:
    write_atomic(path, text, mode=0o600)  # it may hold webhook URLs
