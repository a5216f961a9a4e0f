"""ASGI middleware (FastAPI, Starlette): one application record per request, ids propagated, RED metrics fed."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from exporters import context, schema
from exporters.integrations._http import RequestLog

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class TracklogMiddleware:
    """Wrap an ASGI app: ``app.add_middleware(TracklogMiddleware)`` in FastAPI.

    The route label is the matched route's template (``scope["route"].path`` in Starlette/FastAPI), never the raw
    path, so metrics stay bounded. The request id (``X-Request-ID``) and the W3C ``traceparent`` are taken from the
    request or made, bound to every record logged while handling it, and returned in the response headers.
    """

    def __init__(self, app: ASGIApp, logger: logging.Logger | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.logger = logger or logging.getLogger("tracklog.http")
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = scope.get("client")
        request = RequestLog.start(self.logger, scope.get("method", "GET"), scope.get("path", ""),
                                   client[0] if client else None, headers.get("x-request-id"),
                                   headers.get("traceparent"), self.clock)
        status = 500

        async def send_with_ids(message: dict[str, Any]) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 500))
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request.request_id.encode()),
                                      (b"traceparent", request.traceparent().encode())]
            await send(message)

        with context.bound(**request.fields()):
            try:
                await self.app(scope, receive, send_with_ids)
            except Exception as exc:
                schema.error(self.logger, exc)
                status = 500
                raise
            finally:
                route = scope.get("route")
                request.finish(getattr(route, "path", None), status)
