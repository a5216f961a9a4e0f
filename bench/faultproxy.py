"""A fault-injecting HTTP proxy in front of the real Loki: down, 429, 503 or hung for a while, then forwarding.

It also counts the push requests that reached it, so every handler's request count is measured the same way, and
notes when Loki last accepted one: the moment the last record was delivered, without polling Loki for it.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
import urllib.error
import urllib.request


class FaultProxy:
    """Modes: ``forward``; ``down`` (connections reset, as a stopped Loki); ``429``; ``503``; ``hung`` (no answer)."""

    def __init__(self, loki_url: str) -> None:
        self.loki_url = loki_url.rstrip("/")
        self.mode = "forward"
        self.until = 0.0
        self.requests = 0
        self.last_accepted_at = 0.0  # time.monotonic() when Loki last answered a push with 2xx
        self.released = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.requests += 1
                mode = proxy.current_mode()
                if mode == "down":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    return
                if mode == "hung":
                    while proxy.current_mode() == "hung" and not proxy.released.wait(0.2):
                        pass
                    mode = proxy.current_mode()
                if mode in ("429", "503"):
                    self._answer(int(mode), b"injected by the benchmark", {"Retry-After": "1"})
                    return
                request = urllib.request.Request(proxy.loki_url + self.path, data=body, method="POST", headers={
                    k: v for k, v in self.headers.items() if k.lower() in ("content-type", "content-encoding")})
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        payload = answer.read()
                        if 200 <= answer.status < 300:
                            proxy.last_accepted_at = time.monotonic()
                        self._answer(answer.status, payload, {})
                except urllib.error.HTTPError as err:
                    self._answer(err.code, err.read(), {})

            def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail(self, mode: str, seconds: float) -> None:
        """Misbehave in ``mode`` for ``seconds`` (``float('inf')``: for good), then forward."""
        self.mode, self.until = mode, time.monotonic() + seconds
        self.released.clear()

    def current_mode(self) -> str:
        if self.mode != "forward" and time.monotonic() >= self.until:
            self.mode = "forward"
            self.released.set()
        return self.mode

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
