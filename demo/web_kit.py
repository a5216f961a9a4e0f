"""A small WSGI toolkit for the demo services: a router that names the route template, JSON, a proxy fix."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from exporters.integrations.wsgi import ROUTE_KEY

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Response = tuple[int, dict[str, Any]]

_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 422: "Unprocessable Entity", 423: "Locked", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    environ: Environ
    body: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str, default: str = "") -> str:
        return str(self.environ.get("HTTP_" + name.upper().replace("-", "_"), default))

    @property
    def client_address(self) -> str:
        return str(self.environ.get("REMOTE_ADDR", ""))


Handler = Callable[[Request], Response]


class Router:
    """Routes ``METHOD /template/{param}`` to handlers and stores the template under ``ROUTE_KEY``."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")

        def register(handler: Handler) -> Handler:
            self._routes.append((method, template, pattern, handler))
            return handler

        return register

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        allowed = False
        for route_method, template, pattern, handler in self._routes:
            match = pattern.match(path)
            if not match:
                continue
            allowed = True
            if route_method != method:
                continue
            environ[ROUTE_KEY] = template
            try:
                body = _read_json(environ)
            except ValueError as exc:
                return respond(start_response, 400, {"error": f"invalid JSON body: {exc}"})
            status, payload = handler(Request(method, path, match.groupdict(), environ, body))
            return respond(start_response, status, payload)
        return respond(start_response, 405 if allowed else 404, {"error": "method not allowed" if allowed else
                                                                 "not found"})


def respond(start_response: StartResponse, status: int, payload: dict[str, Any]) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(f"{status} {_REASONS.get(status, 'Status')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _read_json(environ: Environ) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length <= 0:
        return {}
    data = json.loads(environ["wsgi.input"].read(length))
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


class ProxyFix:
    """Take the client address from ``X-Forwarded-For`` when the peer is the local gateway (like werkzeug's)."""

    def __init__(self, app: WsgiApp, trusted: frozenset[str] = frozenset({"127.0.0.1"})) -> None:
        self.app = app
        self.trusted = trusted

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded and environ.get("REMOTE_ADDR") in self.trusted:
            environ["REMOTE_ADDR"] = forwarded.split(",")[-1].strip()
        return self.app(environ, start_response)
