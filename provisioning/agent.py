"""The file agent as tracklog.yaml configures it: its settings and its Loki clients, one per tenant.

exporters.agent does the tailing and knows nothing of tracklog.yaml; this module reads the config for it.
"""

from __future__ import annotations

import logging
import os

from exporters.agent.settings import AgentSettings
from exporters.loki.client import LokiClient
from exporters.loki.router import TenantRouter, tenant_spool_name
from provisioning.config import Config

internal_log = logging.getLogger("tracklog.internal")


def agent_settings(config: Config) -> AgentSettings:
    return AgentSettings(positions_file=config.agent.positions_file, sources=config.agent.sources, env=config.env,
                         root=config.root)


def build_client(config: Config, tenant: str | None = None) -> LokiClient:
    """A LokiClient for ``endpoints.loki``, credentials read from the environment variables the config names.

    Args:
        tenant: the X-Scope-OrgID; default ``endpoints.loki.tenant``. Each tenant's client has its own spool.
    """
    loki = config.endpoints.loki
    tenant = loki.tenant if tenant is None else tenant
    for key in ("username_env", "password_env", "bearer_token_env"):
        _warn_if_unset(getattr(loki, key), f"endpoints.loki.{key}")
    auth, token = loki.credentials()  # the one reading of Loki's credentials, as every command does it
    return LokiClient(
        loki.url,
        tenant=tenant or None,
        auth=auth,
        bearer_token=token,
        verify=loki.verify_tls,
        spool_dir=config.stack.state_dir / "agent-spool",
        spool_name="agent" if tenant == loki.tenant else tenant_spool_name("agent", tenant),
    )


def build_router(config: Config) -> TenantRouter:
    """The clients of every tenant the sources' log types go to (``endpoints.loki.tenants``), made up front."""
    loki = config.endpoints.loki
    router = TenantRouter(build_client(config), loki.tenant_map, lambda tenant: build_client(config, tenant))
    for source in config.agent.sources:
        router.client_for(source.labels.get("log_type"))  # replays each one's spool from the start
    return router


def _warn_if_unset(env_name: str, where: str) -> None:
    """A credential variable the config names but the environment lacks; only its name is ever logged."""
    if env_name and not os.environ.get(env_name):
        internal_log.warning("tracklog agent: %s names $%s, which is not set", where, env_name)
