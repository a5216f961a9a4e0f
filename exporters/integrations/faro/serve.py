"""Run an ASGI app on the standard library's threading HTTP server, so ``tracklog collect`` needs no ASGI server.

For a service that already runs uvicorn or gunicorn, mount :class:`FaroCollector` there instead. Here each request
is read by a server thread and the app runs on one event loop in a thread of its own; ``/metrics`` can be served
beside it. HTTP/1.1 keep-alive, as the SDK's fetch uses it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]
_READ_CHUNK = 64 * 1024


class AsgiServer:
    """Serve ``app`` on ``host:port`` (0 picks a free port: read ``.port``).

    ``routes`` maps other path prefixes (``/metrics``) to their own ASGI apps; a request body is read up to
    ``read_limit`` + 1 bytes. ``start()`` returns once it listens; ``close()`` stops it.
    """

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0,
                 routes: dict[str, ASGIApp] | None = None, timeout: float = 30.0,
                 read_limit: int = 1 << 20) -> None:
        self.app, self.routes, self.timeout, self.read_limit = app, dict(routes or {}), timeout, read_limit
        self.loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self.loop.run_forever, name="tracklog-asgi-loop", daemon=True)
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[0], self.httpd.server_address[1]
        self._serve_thread = threading.Thread(target=self.httpd.serve_forever, name="tracklog-asgi-http", daemon=True)

    def start(self) -> AsgiServer:
        self._loop_thread.start()
        self._serve_thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(5)

    def app_for(self, path: str) -> ASGIApp:
        for prefix, app in self.routes.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return app
        return self.app


def _handler(server: AsgiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = server.timeout
        disable_nagle_algorithm = True  # headers and body are two writes: without it each answer waits ~40 ms

        def _run(self) -> None:
            url = urlsplit(self.path)
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": self.command,
                "scheme": "http", "path": unquote(url.path), "raw_path": url.path.encode("latin-1"),
                "query_string": url.query.encode("latin-1"), "root_path": "",
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()],
                "client": self.client_address[:2], "server": (server.host, server.port),
            }
            # Read here, on this request's thread, never on the shared loop: at most read_limit + 1 bytes, so an
            # app with a smaller limit sees the body is over it and nothing larger is ever held.
            remaining = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(remaining, server.read_limit + 1)) if remaining > 0 else b""
            remaining -= len(body)
            messages = [{"type": "http.request", "body": body, "more_body": remaining > 0}]
            reply: dict[str, Any] = {"status": 500, "headers": [], "body": []}

            async def receive() -> dict[str, Any]:
                return messages.pop() if messages else {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    reply["status"], reply["headers"] = message["status"], message.get("headers", [])
                elif message["type"] == "http.response.body":
                    reply["body"].append(message.get("body", b""))

            app = server.app_for(scope["path"])
            future = asyncio.run_coroutine_threadsafe(app(scope, receive, send), server.loop)
            try:
                future.result(server.timeout)
            except Exception:
                reply = {"status": 500, "headers": [], "body": [b"internal error"]}
            if remaining > 0:  # the app refused before reading it all: this connection cannot be reused
                self.close_connection = True
            answer = b"".join(reply["body"])
            self.send_response(reply["status"])
            names = set()
            for name, value in reply["headers"]:
                names.add(name.lower())
                self.send_header(name.decode("latin-1"), value.decode("latin-1"))
            if b"content-length" not in names:
                self.send_header("Content-Length", str(len(answer)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = do_HEAD = _run

        def log_message(self, *args: Any) -> None:  # access logs would be one stderr line per browser batch
            pass

    return Handler
