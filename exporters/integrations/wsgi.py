"""WSGI middleware (Flask, Django, any WSGI app): one application record per request, ids propagated."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from exporters import context, schema
from exporters.integrations._http import RequestLog

ROUTE_KEY = "tracklog.route"  # an app (or instrument_flask) puts the matched route template here in the environ


class TracklogMiddleware:
    """Wrap a WSGI app: ``app.wsgi_app = TracklogMiddleware(app.wsgi_app)``.

    The route label comes from ``environ["tracklog.route"]`` (set by :func:`instrument_flask`, or by your app),
    else ``unmatched``, so raw paths never become metric labels.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], logger: logging.Logger | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.logger = logger or logging.getLogger("tracklog.http")
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = RequestLog.start(self.logger, environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""),
                                   environ.get("REMOTE_ADDR"), environ.get("HTTP_X_REQUEST_ID"),
                                   environ.get("HTTP_TRACEPARENT"), self.clock)
        status = [500]

        def start_with_ids(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(code.split(" ", 1)[0])
            headers = [*headers, ("X-Request-ID", request.request_id), ("traceparent", request.traceparent())]
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        with context.bound(**request.fields()):
            try:
                body = self.app(environ, start_with_ids)
            except Exception as exc:
                schema.error(self.logger, exc)
                request.finish(environ.get(ROUTE_KEY), 500)
                raise
        return _LoggedBody(body, lambda: request.finish(environ.get(ROUTE_KEY), status[0]))


class _LoggedBody:
    """Pass the response through unbuffered (streaming keeps working); log the request when the server closes it."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._body = body
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close()


def instrument_flask(app: Any, logger: logging.Logger | None = None) -> Any:
    """Log every Flask request with its route template: one call, ``instrument_flask(app)``."""
    from flask import request

    @app.before_request
    def _remember_route() -> None:
        if request.url_rule is not None:
            request.environ[ROUTE_KEY] = request.url_rule.rule

    app.wsgi_app = TracklogMiddleware(app.wsgi_app, logger)
    return app
