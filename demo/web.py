"""web: the backend the tracking UI calls; logs user actions and calls tracking-api with the trace propagated."""

from __future__ import annotations

import logging
from typing import Any

import requests

from demo.directory import ACCOUNTS, ADMIN_ROLE, COURIERS, courier_of
from demo.web_kit import Request, Response, Router, WsgiApp
from exporters import context, schema

ACCOUNTS_BY_ID = {account.user_id: account for account in ACCOUNTS.values()}


class UpstreamError(Exception):
    """tracking-api answered with a server error (answered 502)."""


class UpstreamTimeout(Exception):
    """tracking-api did not answer in time (answered 504)."""


def fetch_tracking(base_url: str, path: str, timeout: float = 4.0) -> dict[str, Any]:
    """GET from tracking-api, passing this request's trace (W3C ``traceparent``) and ``X-Request-ID`` on."""
    bound = context.current()
    headers = {"X-Request-ID": str(bound.get(schema.REQUEST_ID, ""))}
    if bound.get(schema.TRACE_ID):
        headers["traceparent"] = f"00-{bound[schema.TRACE_ID]}-{bound.get(schema.SPAN_ID) or context.new_span_id()}-01"
    try:
        response = requests.get(base_url + path, headers=headers, timeout=(1.0, timeout))
    except requests.Timeout as exc:
        raise UpstreamTimeout(f"tracking-api GET {path}: no answer within {timeout:.0f}s") from exc
    except requests.ConnectionError as exc:
        raise UpstreamError(f"tracking-api GET {path}: {type(exc).__name__}") from exc
    if response.status_code >= 500:
        raise UpstreamError(f"tracking-api GET {path} answered {response.status_code}")
    return dict(response.json(), upstream_status=response.status_code)


def build(log: logging.Logger, upstream: str) -> WsgiApp:
    router = Router()
    upstream = upstream.rstrip("/")

    def upstream_call(request: Request, action: str, paths: list[str]) -> Response:
        order_id = request.params["id"]
        user_id = request.header("X-User-ID", "anonymous")
        schema.user_action(log, user_id=user_id, action=action, **{schema.ORDER_ID: order_id})
        try:
            parts = [fetch_tracking(upstream, path) for path in paths]
        except UpstreamTimeout as exc:
            schema.error(log, exc, **{schema.ORDER_ID: order_id})
            return 504, {"error": "tracking is slow right now, retrying"}
        except UpstreamError as exc:
            schema.error(log, exc, **{schema.ORDER_ID: order_id})
            return 502, {"error": "tracking is unavailable right now"}
        status = max(p.get("upstream_status", 200) for p in parts)
        return (404, {"error": "no such order"}) if status == 404 else (200, {"order_id": order_id, "parts": parts})

    @router.route("GET", "/api/orders/{id}/map")
    def open_map(request: Request) -> Response:
        order_id = request.params["id"]
        paths = [f"/orders/{order_id}/track", f"/couriers/{courier_of(order_id)}/location"]
        return upstream_call(request, "open_map", paths)

    @router.route("GET", "/api/orders/{id}/refresh")
    def refresh(request: Request) -> Response:
        return upstream_call(request, "refresh", [f"/orders/{request.params['id']}/track"])

    @router.route("GET", "/api/admin/couriers")
    def admin_couriers(request: Request) -> Response:
        user_id = request.header("X-User-ID", "anonymous")
        account = ACCOUNTS_BY_ID.get(user_id)
        if account is None or ADMIN_ROLE not in account.roles:
            schema.access_denied(log, user_id=user_id, resource=request.path, required_role=ADMIN_ROLE,
                                 client_address=request.client_address)
            return 403, {"error": "admins only"}
        schema.user_action(log, user_id=user_id, action="list_couriers")
        return 200, {"couriers": len(COURIERS)}

    @router.route("PUT", "/api/users/me/location-settings")
    def location_settings(request: Request) -> Response:
        user_id = request.header("X-User-ID", "anonymous")
        settings = {k: request.body.get(k) for k in ("share_location", "precision")}
        schema.user_action(log, user_id=user_id, action="change_location_settings",
                           **{f"settings.{k}": v for k, v in settings.items()})
        return 200, {"user_id": user_id, **settings}

    return router

