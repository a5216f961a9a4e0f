"""The demo web service's front: the tracking page, its bundle and Faro's collector mounted beside the API (WSGI)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from demo import frontend
from exporters import context, schema
from exporters.integrations.wsgi import ROUTE_KEY

FIRST = json.loads((Path(__file__).parent / "data" / "faro" / "sdk-2.12.1-first-batch.json").read_text())
PORT = "8711"
ORIGIN = f"http://127.0.0.1:{PORT}"


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.fields.append({**context.current(), **getattr(record, schema.FIELDS_ATTR, {})})


def call(app: frontend.Frontend, method: str, path: str, body: bytes = b"",
         **headers: str) -> tuple[str, dict[str, str], bytes, dict[str, Any]]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_PORT": PORT, "QUERY_STRING": "",
                               "REMOTE_ADDR": "203.0.113.17", "wsgi.input": io.BytesIO(body),
                               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "text/plain;charset=UTF-8"}
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer.update(status=status, headers=dict(headers))

    data = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], data, environ


@pytest.fixture
def page_dir(tmp_path: Path) -> Path:
    (tmp_path / frontend.HTML).write_text('<meta name="faro-key" content="{{faro_key}}"> v{{version}}')
    (tmp_path / frontend.BUNDLE).write_text("console.log('bundle')")
    return tmp_path


@pytest.fixture
def kept() -> Any:
    handler = Kept()
    logger = logging.getLogger("demo.web.faro")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


def api(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"api": true}']


def test_page_and_bundle_are_served_with_the_app_key_and_routes_named(page_dir: Path) -> None:
    app = frontend.Frontend(api, page_dir)
    status, headers, body, environ = call(app, "GET", "/")
    assert status == "200 OK"
    assert headers["Content-Type"].startswith("text/html")
    assert f'content="{frontend.FARO_APP_KEY}"' in body.decode()
    assert "{{" not in body.decode()
    assert environ[ROUTE_KEY] == "/"
    status, headers, body, environ = call(app, "GET", f"/static/{frontend.BUNDLE}")
    assert (status, body, environ[ROUTE_KEY]) == ("200 OK", b"console.log('bundle')", "/static/{file}")
    assert call(app, "GET", "/api/orders/o-1/map")[2] == b'{"api": true}'  # everything else is the API's


def test_a_missing_bundle_says_how_to_build_it(tmp_path: Path) -> None:
    status, _, body, _ = call(frontend.Frontend(api, tmp_path), "GET", "/")
    assert status == "404 Not Found"
    assert "make faro-page" in body.decode()
    assert frontend.missing(tmp_path)
    assert "make faro-page" in str(frontend.missing(tmp_path))


def test_the_collector_takes_the_sdks_payload_from_its_own_origin_only(page_dir: Path, kept: Kept) -> None:
    app = frontend.Frontend(api, page_dir)
    body = json.dumps(FIRST["body"]).encode()
    with context.bound(**{schema.TRACE_ID: "f" * 32, schema.REQUEST_ID: "the-post"}):  # as the middleware binds
        status, headers, _, environ = call(app, "POST", "/collect", body, ORIGIN=ORIGIN,
                                           X_API_KEY=frontend.FARO_APP_KEY, X_FARO_SESSION_ID="s-1")
    assert status == "202 Accepted"
    assert headers["access-control-allow-origin"] == ORIGIN
    assert environ[ROUTE_KEY] == "/collect"
    actions = [f for f in kept.fields if f.get(schema.EVENT_NAME) == "ui.action"]
    assert [f[schema.UI_ACTION] for f in actions] == ["map.open", "map.refresh", "settings.location.change"]
    assert {f["service"] for f in kept.fields} == {frontend.BROWSER_SERVICE}
    assert {f[schema.CLIENT_ADDRESS] for f in kept.fields} == {"203.0.113.17"}  # after the demo's ProxyFix
    # The POST's own trace and request id stay out of the browser's records: they carry their own or none.
    assert all(f.get(schema.TRACE_ID) != "f" * 32 and schema.REQUEST_ID not in f for f in kept.fields)

    kept.fields.clear()
    assert call(app, "POST", "/collect", body, ORIGIN="http://evil.example", X_API_KEY=frontend.FARO_APP_KEY)[0] \
        == "403 Forbidden"
    assert call(app, "POST", "/collect", body, ORIGIN=ORIGIN, X_API_KEY="wrong")[0] == "401 Unauthorized"
    assert kept.fields == []
