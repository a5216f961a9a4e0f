"""The tracking page in the web service: the page and its bundle at ``/``, Grafana Faro's collector at ``/collect``.

The page (``demo/page/``, bundled with the Faro Web SDK by ``demo/page/build.sh`` into :data:`PAGE_DIR`) sends
what its users do and what breaks to the collector on the same origin (no CORS), which logs it through the web
service's own handler as the ``tracking-web`` service; its API calls go to the web backend with ``traceparent``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from demo import VERSION
from demo.web_kit import Environ, StartResponse, WsgiApp
from exporters.integrations.faro import CollectorSettings, FaroCollector
from exporters.integrations.wsgi import ROUTE_KEY

PAGE_DIR = Path(os.environ.get("TRACKLOG_FARO_PAGE_DIR") or Path.home() / ".cache" / "tracklog" / "faro-page")
BUNDLE, HTML = "tracking.bundle.js", "tracking.html"
FARO_APP_KEY = "demo-tracking-web"  # public, as every Faro app key is: it is in the page
BROWSER_SERVICE = "tracking-web"  # the service the browser's records are logged as


def missing(page_dir: Path = PAGE_DIR) -> str | None:
    """Why the tracking page cannot be served, or None."""
    if not (page_dir / BUNDLE).exists() or not (page_dir / HTML).exists():
        return f"no tracking page bundle in {page_dir} (`make faro-page` builds it with npm and esbuild)"
    return None


class Frontend:
    """WSGI: ``GET /`` the page, ``GET /static/tracking.bundle.js``, ``/collect`` Faro's collector; else ``api``."""

    def __init__(self, api: WsgiApp, page_dir: Path = PAGE_DIR) -> None:
        self.api = api
        self.page_dir = page_dir
        self.logger = logging.getLogger("demo.web.faro")
        self._collector: FaroCollector | None = None
        self._lock = threading.Lock()  # the collector's limiters expect one event loop: one payload at a time

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        if path == "/collect" or path.startswith("/collect/"):
            environ[ROUTE_KEY] = "/collect"
            return self.collect(environ, start_response)
        if path in ("/", "/map") and method == "GET":
            environ[ROUTE_KEY] = "/"
            return self.page(start_response)
        if path == f"/static/{BUNDLE}" and method == "GET":
            environ[ROUTE_KEY] = "/static/{file}"
            return self.file(start_response, BUNDLE, "application/javascript")
        return self.api(environ, start_response)

    def page(self, start_response: StartResponse) -> list[bytes]:
        reason = missing(self.page_dir)
        if reason:
            return _plain(start_response, "404 Not Found", f"the tracking page is not built: {reason}\n")
        html = (self.page_dir / HTML).read_text().replace("{{faro_key}}", FARO_APP_KEY).replace("{{version}}", VERSION)
        return _plain(start_response, "200 OK", html, "text/html; charset=utf-8")

    def file(self, start_response: StartResponse, name: str, content_type: str) -> list[bytes]:
        try:
            data = (self.page_dir / name).read_bytes()
        except OSError:
            return _plain(start_response, "404 Not Found", f"{name} is not built (`make faro-page`)\n")
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(data))),
                                  ("Cache-Control", "max-age=600")])
        return [data]

    def collect(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        """Run the ASGI collector for this WSGI request, outside the request's bound context (the browser's records
        carry their own trace ids, not the id of the POST that delivered them)."""
        with self._lock:
            collector = self._collector_for(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        limit = collector.settings.max_body_bytes
        body = environ["wsgi.input"].read(min(length, limit + 1)) if length > 0 else b""
        headers = [(k[5:].replace("_", "-").lower().encode("latin-1"), str(v).encode("latin-1"))
                   for k, v in environ.items() if k.startswith("HTTP_")]
        for key, name in (("CONTENT_TYPE", b"content-type"), ("CONTENT_LENGTH", b"content-length")):
            if environ.get(key):
                headers.append((name, str(environ[key]).encode("latin-1")))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": environ.get("REQUEST_METHOD", "GET"), "scheme": "http",
                 "path": environ.get("PATH_INFO", "/"), "root_path": "", "headers": headers,
                 "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
                 "client": (environ.get("REMOTE_ADDR", ""), 0)}
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        reply: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                reply["status"], reply["headers"] = message["status"], message.get("headers", [])
            else:
                reply["body"].append(message.get("body", b""))

        with self._lock:
            contextvars.Context().run(asyncio.run, collector(scope, receive, send))
        status = reply["status"]
        start_response(f"{status} {_REASONS.get(status, 'Status')}",
                       [(k.decode("latin-1"), v.decode("latin-1")) for k, v in reply["headers"]])
        return [b"".join(reply["body"])]

    def _collector_for(self, environ: Environ) -> FaroCollector:
        if self._collector is None:  # the page's origin is this server's, known once it listens
            port = environ.get("SERVER_PORT", "")
            settings = CollectorSettings(app_keys={FARO_APP_KEY: BROWSER_SERVICE},
                                         allowed_origins=(f"http://127.0.0.1:{port}", f"http://localhost:{port}"))
            self._collector = FaroCollector(settings, logger=self.logger)
        return self._collector


_REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large", 429: "Too Many Requests",
            500: "Internal Server Error"}


def _plain(start_response: StartResponse, status: str, text: str,
           content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
    data = text.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]
