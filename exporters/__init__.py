"""tracklog exporters: structured JSON logs to Loki, metrics derived from them for Prometheus, a file agent."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exporters.formatter import JsonFormatter
from exporters.handler import LokiHandler
from exporters.loki.client import LokiClient
from exporters.loki.router import TenantRouter
from exporters.metrics import MetricsHandler, RecordMetrics, default_metrics
from exporters.redact import Redactor
from exporters.redact_config import load_redactor, make_redactor

__all__ = [
    "JsonFormatter", "LokiClient", "LokiHandler", "MetricsHandler", "RecordMetrics", "Redactor", "TenantRouter",
    "configure", "default_spool_dir", "load_redactor", "tenants_from_env",
]


def default_spool_dir() -> Path:
    """``$TRACKLOG_SPOOL_DIR``, else ``~/.cache/tracklog/spool``."""
    return Path(os.environ.get("TRACKLOG_SPOOL_DIR") or Path.home() / ".cache" / "tracklog" / "spool")


def tenants_from_env(value: str | None = None) -> dict[str, str]:
    """``$TRACKLOG_LOKI_TENANTS`` (``security=security-logs,audit=security-logs``) as {log type: tenant}.

    The same mapping as tracklog.yaml's ``endpoints.loki.tenants``, for services that do not read that file.
    """
    text = os.environ.get("TRACKLOG_LOKI_TENANTS", "") if value is None else value
    tenants = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        log_type, sep, tenant = pair.partition("=")
        if not sep or not log_type.strip() or not tenant.strip():
            raise ValueError(f"TRACKLOG_LOKI_TENANTS: {pair!r} is not log_type=tenant")
        tenants[log_type.strip()] = tenant.strip()
    return tenants


def configure(
    service: str,
    *,
    env: str | None = None,
    loki_url: str | None = None,
    level: int = logging.INFO,
    logger: logging.Logger | None = None,
    metrics: bool = True,
    spool: bool = True,
    redaction: Redactor | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    **client_options: object,
) -> LokiHandler:
    """Set up a service's logging in one call: JSON records to Loki, derived metrics, the client's own metrics.

    Args:
        service: the service name (the ``service`` label).
        env: the ``env`` label (default ``$TRACKLOG_ENV`` or ``dev``).
        loki_url: default ``$TRACKLOG_LOKI_URL`` or ``http://127.0.0.1:3100``.
        logger: where to attach the handler (default: the root logger).
        metrics: feed :class:`RecordMetrics` on the default registry and register ``tracklog_loki_*``.
        spool: spill to a disk spool under :func:`default_spool_dir` when Loki is down.
        redaction: a :class:`Redactor`, a ``redaction:`` mapping as in tracklog.yaml, or the path of a tracklog.yaml
            to read it from; default ``$TRACKLOG_CONFIG`` when set, else the built-in detectors.

    ``$TRACKLOG_LOKI_TENANT`` sets the Loki tenant (X-Scope-OrgID) and ``$TRACKLOG_LOKI_TENANTS`` the log types
    with a tenant of their own (see :func:`tenants_from_env`), unless ``tenant=``/``tenants=`` are given.
    """
    from exporters import selfmetrics

    if spool:
        client_options.setdefault("spool_dir", default_spool_dir())
        client_options.setdefault("spool_name", service)
    url = loki_url or os.environ.get("TRACKLOG_LOKI_URL") or "http://127.0.0.1:3100"
    if os.environ.get("TRACKLOG_LOKI_TENANT"):
        client_options.setdefault("tenant", os.environ["TRACKLOG_LOKI_TENANT"])
    tenants = tenants_from_env()
    if tenants:
        client_options.setdefault("tenants", tenants)
    handler = LokiHandler(url, service=service, env=env, metrics=default_metrics() if metrics else None,
                          redactor=make_redactor(redaction), **client_options)  # type: ignore[arg-type]
    if metrics:
        selfmetrics.register()
    target = logger or logging.getLogger()
    target.addHandler(handler)
    if target.level == logging.NOTSET or target.level > level:
        target.setLevel(level)
    return handler
