"""Serve the page on :8701 and a permissive endpoint on :8702 that writes each request it gets to out/.

Not a test: the tool that captured the Faro payloads beside it (see README.md).
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OUT = Path("out")
COUNTER = itertools.count(1)


class Capture(BaseHTTPRequestHandler):
    def _save(self, kind: str, body: object = None) -> None:
        record = {"path": self.path, "headers": dict(self.headers), "body": body}
        (OUT / f"{kind}-{next(COUNTER)}.json").write_text(json.dumps(record, indent=1))

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
        self.send_header("Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers", "*"))
        self.send_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")

    def do_OPTIONS(self) -> None:
        self._save("preflight")
        self.send_response(204)
        self._cors()
        self.end_headers()

    def do_GET(self) -> None:  # the page's "API": records the traceparent it was sent
        self._save("api")
        self.send_response(200)
        self._cors()
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok":true}')

    def do_POST(self) -> None:
        self._save("post", json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(202)
        self._cors()
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    page = ThreadingHTTPServer(("127.0.0.1", 8701), functools.partial(SimpleHTTPRequestHandler, directory="."))
    threading.Thread(target=page.serve_forever, daemon=True).start()
    ThreadingHTTPServer(("127.0.0.1", 8702), Capture).serve_forever()
