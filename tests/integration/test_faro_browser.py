"""The real Faro Web SDK in headless Chromium against the collector, an instrumented API and the real Loki.

The page (tests/unit/data/faro/page.js) is bundled outside the repository by demo/page/build.sh (`make faro-page`);
without that bundle, or without a Chromium, these tests are skipped and say why. The page opens the map, refreshes
it inside a span (its fetch to the API carries traceparent; a TypeError is caught and pushed), changes the
location settings, logs, throws one uncaught TypeError, and reports web vitals.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from exporters import LokiHandler
from exporters.integrations.wsgi import ROUTE_KEY, TracklogMiddleware
from tests.integration.conftest import loki_lines, wait_for
from tests.integration.test_faro_loki import KEY, Collector

PAGE_DIR = Path(os.environ.get("TRACKLOG_FARO_PAGE_DIR") or Path.home() / ".cache" / "tracklog" / "faro-page")
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None,
                       reason="no chromium on PATH (`tracklog stack build`, run by make test, installs it "
                              "with apt-get)"),
    pytest.mark.skipif(not (PAGE_DIR / "page.bundle.js").exists(),
                       reason=f"no Faro page bundle in {PAGE_DIR}: `make faro-page` (run by make test) builds it "
                              "with npm and esbuild"),
]


class Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def page_origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(PAGE_DIR)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def api_url(loki_url: str) -> Iterator[str]:
    """The tracking API the page fetches from, logging each request (with the page's trace id) to Loki."""
    handler = LokiHandler(loki_url, service="tracking-api", batch_max_wait=0.2)
    logger = logging.getLogger(f"tracking.api.browser.{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        cors = [("Access-Control-Allow-Origin", environ.get("HTTP_ORIGIN", "*"))]
        if environ["REQUEST_METHOD"] == "OPTIONS":  # the page's fetch sends traceparent: a preflight first
            start_response("204 No Content", [*cors, ("Access-Control-Allow-Headers", "traceparent"),
                                              ("Access-Control-Allow-Methods", "GET")])
            return [b""]
        environ[ROUTE_KEY] = "/api/orders/{id}"
        start_response("200 OK", [*cors, ("Content-Type", "application/json")])
        return [b'{"order_id": "o-42"}']

    server = make_server("127.0.0.1", 0, TracklogMiddleware(app, logger=logger), handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    logger.removeHandler(handler)
    handler.close()


@pytest.mark.parametrize("gzip", [False, True], ids=["json", "gzip"])
def test_real_sdk_in_headless_chromium(loki_url: str, tmp_path: Path, page_origin: str, api_url: str,
                                       gzip: bool) -> None:
    collector = Collector(loki_url, tmp_path / "spool", origin=page_origin)
    user = f"u-{uuid.uuid4().hex[:10]}"
    try:
        url = (f"{page_origin}/index.html?collector=http://127.0.0.1:{collector.server.port}&api={api_url}"
               f"&key={KEY}&user={user}&gzip={int(gzip)}")
        shown = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=8000",
                                "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False)
        assert "<title>done</title>" in shown.stdout, shown.stderr[-2000:]

        def found() -> list[dict[str, Any]]:
            lines = loki_lines(loki_url, f'{{service="tracking-web"}} |= "{user}"', since_s=900)
            events = [json.loads(line) for line in lines]
            names = [e["event.name"] for e in events]
            return events if names.count("error") >= 2 and names.count("browser.span") >= 2 else []

        events = wait_for(found, timeout=45, what=f"the browser records of {user} in Loki")
    finally:
        collector.close()
    assert collector.app.counts.get("accepted", 0) >= 2
    assert set(collector.app.counts) == {"accepted"}  # nothing refused: preflight, key, size, rate, gzip all fit
    actions = [e["ui.action"] for e in events if e["log_type"] == "audit"]
    assert actions == ["map.open", "map.refresh", "settings.location.change"]
    errors = [e for e in events if e["event.name"] == "error"]
    assert {e["error.type"] for e in errors} == {"TypeError"}
    assert all(e["code.function"] and "page.bundle.js" in e["code.filepath"] for e in errors)
    assert {e["web_vital.name"] for e in events if "web_vital.name" in e} >= {"fcp", "ttfb"}
    assert "dispatcher17@example.com" not in json.dumps(events)

    # The click on refresh, the JS error inside it and the API request its fetch made share one trace id.
    refresh = next(e for e in events if e.get("ui.action") == "map.refresh")
    trace = refresh["trace_id"]
    assert any(e["event.name"] == "error" and e.get("trace_id") == trace for e in errors)
    api = wait_for(lambda: loki_lines(loki_url, f'{{service="tracking-api"}} |= "{trace}"', since_s=900),
                   timeout=30, what=f"the API's request record with trace id {trace}")
    request = json.loads(api[0])
    assert request["http.route"] == "/api/orders/{id}"
    assert request["trace_id"] == trace
