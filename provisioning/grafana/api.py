"""The connection to Grafana: credentials from the environment, and every call's failure as a GrafanaError that
names the URL, the request, Grafana's answer and what to do."""

from __future__ import annotations

import os
from typing import Any

from provisioning.errors import TracklogError


class GrafanaError(TracklogError):
    """Grafana answered with an error or not at all; the message names the URL, the request and what to do."""


def connect(url: str, token_env: str, username_env: str, password_env: str) -> Any:
    from grafana_client import GrafanaApi

    token = os.environ.get(token_env)
    user, password = os.environ.get(username_env), os.environ.get(password_env)
    credential: Any = token or ((user, password) if user and password else None)
    if credential is None:
        raise GrafanaError(f"no credentials for Grafana at {url}: set ${token_env} (a service-account token with the "
                           f"Admin role) or ${username_env} and ${password_env}")
    return GrafanaApi.from_url(url, credential=credential, timeout=(5, 30))


def call(url: str, token_env: str, what: str, fn: Any, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
    """Run one grafana-client call; a 404 is None when ``missing_ok``; any other failure is a GrafanaError."""
    from grafana_client.client import GrafanaException

    try:
        return fn(*args, **kwargs)
    except GrafanaException as exc:
        status = getattr(exc, "status_code", 0)
        if missing_ok and status == 404:
            return None
        hint = {401: f"check the token in ${token_env}",
                403: "the token's role lacks this permission: tracklog needs a service account with the Admin role "
                     "(alerting provisioning, datasources and folder permissions are Admin-only in Grafana)",
                409: "Grafana already has an object with this name or uid that tracklog did not create",
                412: "someone changed it in Grafana meanwhile; run `tracklog plan` again"}.get(status, "")
        raise GrafanaError(f"Grafana at {url} answered {status or 'an error'} on {what}: {_message(exc)}"
                           + (f" — {hint}" if hint else "")) from exc
    except Exception as exc:  # connection refused, DNS, TLS, timeouts
        if type(exc).__module__.startswith(("niquests", "requests", "urllib3", "socket")) or isinstance(exc, OSError):
            raise GrafanaError(f"Grafana at {url} is unreachable on {what}: {type(exc).__name__}: {exc}"
                               " — is the URL right (endpoints.grafana.url / TRACKLOG_GRAFANA_URL)?") from exc
        raise


def _message(exc: Any) -> str:
    """Grafana's own message: grafana-client keeps the decoded JSON body in ``response``."""
    body = getattr(exc, "response", None)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(getattr(exc, "message", exc))

