"""Collect what Grafana Faro's Web SDK sends from browsers and ship it to Loki (the Faro collector).

App keys come from the environment (``$TRACKLOG_FARO_APP_KEYS``: ``key=service,key2=service2``), never from the
command line. Records go to ``endpoints.loki`` (each log type to its tenant of ``endpoints.loki.tenants``) through
the same client as every other writer, spooled under the state directory while Loki is away.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import types
from typing import TYPE_CHECKING

from provisioning import config
from provisioning.errors import TracklogError

if TYPE_CHECKING:
    from exporters import LokiHandler

KEYS_ENV = "TRACKLOG_FARO_APP_KEYS"


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8027, help="port to listen on (default 8027; 0 picks one)")
    parser.add_argument("--path", default="/collect", help="the SDK's url path (default /collect)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="a page origin allowed to send (repeat; '*' for any); none: only non-browser clients")
    parser.add_argument("--keys-env", default=KEYS_ENV, metavar="NAME",
                        help=f"environment variable holding key=service pairs (default ${KEYS_ENV})")
    parser.add_argument("--max-body-bytes", type=int, default=512 * 1024, help="larger payloads get 413")
    parser.add_argument("--rate", type=float, default=5.0, help="payloads per second per session (429 above)")
    parser.add_argument("--burst", type=int, default=20, help="payloads a session may send at once")
    parser.add_argument("--address-rate", type=float, default=50.0,
                        help="payloads per second per client address, over all its sessions (429 above)")
    parser.add_argument("--address-burst", type=int, default=200, help="payloads an address may send at once")
    parser.add_argument("--proxy-hops", type=int, default=0,
                        help="proxies in front that append X-Forwarded-For (default 0: the header is ignored)")
    parser.add_argument("--no-metrics", action="store_true", help="do not serve /metrics beside the collector")
    parser.set_defaults(run=run)


def app_keys(text: str, name: str) -> dict[str, str]:
    """``key=service,...`` as {key: service}; an error names the variable and the entry, never a key."""
    keys: dict[str, str] = {}
    for number, pair in enumerate(filter(None, (p.strip() for p in text.split(","))), start=1):
        key, sep, service = pair.partition("=")
        if not sep or not key.strip() or not service.strip():
            raise TracklogError(f"${name}: entry {number} is not key=service")
        keys[key.strip()] = service.strip()
    if not keys:
        raise TracklogError(f"${name} is not set or empty: give each app key as key=service (comma-separated)")
    return keys


def run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    from exporters.integrations.faro import CollectorSettings, FaroCollector
    from exporters.integrations.faro.serve import AsgiServer
    from exporters.metrics import asgi_app

    cfg = config.load(args.config)
    settings = CollectorSettings(app_keys=app_keys(os.environ.get(args.keys_env, ""), args.keys_env),
                                 allowed_origins=tuple(args.allow_origin), path=args.path,
                                 max_body_bytes=args.max_body_bytes, rate=args.rate, burst=args.burst,
                                 address_rate=args.address_rate, address_burst=args.address_burst,
                                 proxy_hops=args.proxy_hops)
    handler = faro_handler(cfg)
    logger = logging.getLogger("tracklog.faro")
    logger.propagate = False  # one stderr line per browser record would drown the collector's own messages
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    server = AsgiServer(FaroCollector(settings, logger=logger), args.host, args.port,
                        routes={} if args.no_metrics else {"/metrics": asgi_app()},
                        read_limit=settings.max_body_bytes).start()
    stop = stop or _stop_on_signals()
    print(f"tracklog collect: listening on http://{server.host}:{server.port}{settings.path} "
          f"for {len(settings.app_keys)} app key(s); Loki at {cfg.endpoints.loki.url}", flush=True)
    try:
        stop.wait()
    finally:
        server.close()
        logger.removeHandler(handler)
        handler.close()  # flushes; what Loki does not take now is spooled for the next run
    return 0


def faro_handler(cfg: config.Config) -> LokiHandler:
    """The LokiHandler of ``endpoints.loki`` (its tenants too), with the derived metrics and its own spool."""
    from exporters import LokiHandler, selfmetrics
    from exporters.metrics import default_metrics

    loki = cfg.endpoints.loki
    auth, token = loki.credentials()
    selfmetrics.register()
    return LokiHandler(loki.url, auth=auth, service="faro-collector", env=cfg.env, metrics=default_metrics(),
                       tenants=loki.tenant_map or None, tenant=loki.tenant or None, bearer_token=token,
                       verify=loki.verify_tls, spool_dir=cfg.stack.state_dir / "collect-spool", spool_name="faro")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def stopping(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stopping)
    return stop
