"""Print the alerts Alertmanager delivers while the demo runs: a receiver on the stack's webhook port."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from typing import Any


class AlertPrinter:
    """Listens where tracklog.yaml's demo contact points point (127.0.0.1:<alertmanager_webhook>) and prints
    each firing or resolved alert on one line. Both Alertmanager's webhook JSON and its Slack JSON are read."""

    def __init__(self, port: int) -> None:
        printer = self
        self.received = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.end_headers()
                with contextlib.suppress(ValueError):
                    printer.show(self.path, json.loads(body or b"{}"))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, name="demo-alerts", daemon=True).start()

    def show(self, path: str, body: dict[str, Any]) -> None:
        stamp = time.strftime("%H:%M:%S")
        for alert in body.get("alerts", []):  # webhook receivers
            self.received += 1
            labels, notes = alert.get("labels", {}), alert.get("annotations", {})
            print(f"[{stamp}] ALERT {alert.get('status', '?').upper()} {labels.get('alertname')} "
                  f"(severity {labels.get('severity', '-')}, team {labels.get('team', '-')}): "
                  f"{notes.get('summary', '')}", flush=True)
        for attachment in body.get("attachments", []):  # Slack receivers
            self.received += 1
            print(f"[{stamp}] ALERT via {body.get('channel', 'slack')} ({path}): {attachment.get('title', '')}",
                  flush=True)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
