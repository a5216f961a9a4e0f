"""One demo service as its own process: ``python -m demo.service <name> [--env E] [--upstream URL] ...``.

Instrumented as a real service would be: ``exporters.configure``, a ``SystemReporter``, the WSGI middleware, and
its own ``/metrics`` registered with Prometheus through a file_sd JSON file that is removed on exit. It prints one
JSON line ``{"port": ..., "metrics_port": ..., "target_file": ...}`` on stdout when ready, then stops on
SIGINT/SIGTERM (or when its parent goes away), logging ``service.stop`` and flushing its Loki handler.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import exporters
from demo import SERVICES, VERSION
from demo.web_kit import ProxyFix, WsgiApp
from exporters import metrics
from exporters.integrations.wsgi import TracklogMiddleware
from exporters.system import SystemReporter
from provisioning import config as config_module
from provisioning.stack import Stack

USAGE_INTERVAL = 5.0


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def load_config(path: str | None) -> config_module.Config:
    """``--config``, else ``$TRACKLOG_CONFIG``, else ./tracklog.yaml, else the repository's."""
    if path or os.environ.get("TRACKLOG_CONFIG") or Path("tracklog.yaml").exists():
        return config_module.load(path)
    return config_module.load(Path(__file__).resolve().parents[1] / "tracklog.yaml")


def targets_dir(config: config_module.Config) -> Path:
    """Prometheus's file_sd directory of the native stack (``stack.paths.of("prometheus") / "targets"``)."""
    return Stack(config).paths.of("prometheus") / "targets"


def register_target(directory: Path, name: str, env: str, port: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"demo-{name}-{os.getpid()}.json"
    tmp = directory / f".{path.name}.tmp"
    tmp.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"service": name, "env": env}}]))
    os.replace(tmp, path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(name: str, env: str, config: config_module.Config, make_app: Callable[[logging.Logger], WsgiApp]) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    exporters.configure(name, env=env, loki_url=config.endpoints.loki.url)
    log = logging.getLogger(f"demo.{name}")
    reporter = SystemReporter(interval=USAGE_INTERVAL, version=VERSION).start()

    server = make_server("127.0.0.1", 0, ProxyFix(TracklogMiddleware(make_app(log))),
                         server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    port = server.server_address[1]
    metrics_port = free_port()
    metrics.serve(metrics_port, addr="127.0.0.1")
    target = register_target(targets_dir(config), name, env, metrics_port)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    log.info("listening on 127.0.0.1:%d, metrics on :%d", port, metrics_port,
             extra={"server.port": port, "metrics.port": metrics_port})
    print(json.dumps({"port": port, "metrics_port": metrics_port, "target_file": str(target)}), flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing else goes to the parent's pipe

    parent = os.getppid()
    try:
        while not stop.wait(1.0):
            if os.getppid() != parent:  # the demo was killed: do not outlive it
                break
    finally:
        server.shutdown()
        server.server_close()
        reporter.stop()  # logs service.stop
        target.unlink(missing_ok=True)
        logging.shutdown()  # flushes the Loki handler
    return 0


def _app_factory(args: argparse.Namespace) -> Callable[[logging.Logger], WsgiApp]:
    if args.name == "tracking-api":
        from demo import tracking_api
        from demo.incidents import DbSlowdown

        slowdown = DbSlowdown.parse(args.db_slowdown) if args.db_slowdown else None
        return lambda log: tracking_api.build(log, slowdown)
    if args.name == "courier-ingest":
        from demo import courier_ingest

        return courier_ingest.build
    if args.name == "auth":
        from demo import auth

        return auth.build
    from demo import frontend, web

    if not args.upstream:
        raise SystemExit("web needs --upstream (the tracking-api base URL)")
    return lambda log: frontend.Frontend(web.build(log, args.upstream))  # the page and Faro's collector in front


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.service", description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=SERVICES)
    parser.add_argument("--env", help="the env label (default: tracklog.yaml's env)")
    parser.add_argument("--config", help="tracklog.yaml (default $TRACKLOG_CONFIG or ./tracklog.yaml)")
    parser.add_argument("--upstream", help="web: the tracking-api base URL")
    parser.add_argument("--db-slowdown", help="tracking-api: EPOCH:SECONDS of the injected DB slowdown")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    return run(args.name, args.env or config.env, config, _app_factory(args))


if __name__ == "__main__":
    sys.exit(main())
