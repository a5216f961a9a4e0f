"""The Grafana look-alike as an HTTP server on 127.0.0.1, for grafana-client's real HTTP path.

Routes map to state.Grafana's methods; authentication and role checks come first, and every request is checked
against Grafana's OpenAPI spec (spec.py) and every answer against the statuses and schemas the spec documents.
``requests`` records each request (method, path, body) so tests can count writes and inspect what was sent.

Authentication: a bearer token (service-account token) or basic auth, else 401 (pkg/services/authn: an unknown
token is "invalid API key"). Roles: the alerting provisioning API needs Admin (pkg/services/ngalert/accesscontrol.go:
fixed:alerting.provisioning:writer is granted to Admin only), as do datasource writes and folder permissions
(pkg/services/accesscontrol/roles.go, the fixed datasources/folders roles); Editors write dashboards and folders;
Viewers read. A refusal answers 403 "You'll need additional permissions to perform this action. Permissions
needed: <action>" (pkg/services/accesscontrol/middleware.go, deny).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.grafana_lookalike.spec import ResponseChecker
from tests.grafana_lookalike.state import ApiError, Grafana, plain

ROLE_RANK = {"Viewer": 1, "Editor": 2, "Admin": 3}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    role: str  # the least role allowed
    action: str  # the RBAC action named in a 403
    handler: Callable[..., tuple[int, Any]]


@dataclass
class Lookalike:
    """A running look-alike: its URL, its Grafana state, the requests it saw and the spec violations it found."""

    grafana: Grafana
    tokens: dict[str, str] = field(default_factory=lambda: {"admin-token": "Admin"})
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # login -> (password, role)
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def writes(self) -> list[Recorded]:
        """Requests that changed something (a write answered 2xx)."""
        return [r for r in self.requests if r.method != "GET" and 200 <= r.status < 300]

    def start(self) -> Lookalike:
        checker = ResponseChecker()
        routes = _routes(self.grafana)
        lookalike = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in two writes: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms each.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                split = urlsplit(self.path)
                path, query = split.path, parse_qs(split.query, keep_blank_values=True)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    self._answer(400, {"message": "bad request data"})
                    return
                record = Recorded(self.command, path, query, headers, body)
                with lookalike.grafana.lock:
                    lookalike.requests.append(record)
                    # Only Grafana's HTTP API (/api/...) is tracklog's to call and the spec's to check. Anything else
                    # on this port is not tracklog's: on a shared machine Prometheus may still scrape /metrics on a
                    # port a finished demo service had registered (Grafana itself serves /metrics there too).
                    checked = path.startswith("/api/")
                    if checked:
                        lookalike.violations.extend(checker.check(self.command, path, query, headers, body))
                    status, answer = self._dispatch(path, query, headers, body)
                    record.status = status
                    if checked:
                        lookalike.violations.extend(checker.check_response(self.command, path, status, answer))
                self._answer(status, answer)

            def _dispatch(self, path: str, query: dict[str, list[str]], headers: dict[str, str],
                          body: Any) -> tuple[int, Any]:
                if path == "/api/health":
                    return 200, {"commit": "lookalike", "database": "ok", "version": lookalike.grafana.version.name}
                role = lookalike._role(headers.get("Authorization", ""))
                if role is None:
                    return 401, {"message": "invalid API key", "messageId": "api-key.invalid", "statusCode": 401,
                                 "extra": None, "traceID": ""}
                for route in routes:
                    match = route.pattern.fullmatch(path)
                    if match is None or route.method != self.command:
                        continue
                    if ROLE_RANK[role] < ROLE_RANK[route.role]:
                        return 403, {"accessErrorId": "ACE0000000001", "title": "Access denied",
                                     "message": "You'll need additional permissions to perform this action. "
                                                f"Permissions needed: {route.action}"}
                    params = {k: unquote(v) for k, v in match.groupdict().items()}
                    try:
                        return route.handler(params=params, query=query, headers=headers, body=body)
                    except ApiError as exc:
                        return exc.status, exc.body
                return 404, {"message": "Not found"}

            def _answer(self, status: int, answer: Any) -> None:
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Lookalike:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _role(self, authorization: str) -> str | None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return self.tokens.get(value)
        if scheme.lower() == "basic":
            try:
                login, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            user = self.users.get(login)
            return user[1] if user and user[0] == password else None
        return None


def _flag(headers: dict[str, str], name: str) -> bool:
    return any(k.lower() == name.lower() and v.lower() == "true" for k, v in headers.items())


def _routes(g: Grafana) -> list[Route]:
    def route(method: str, path: str, role: str, action: str, handler: Callable[..., tuple[int, Any]]) -> Route:
        return Route(method, re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)), role, action, handler)

    provenance_off = lambda h: _flag(h, "X-Disable-Provenance")  # noqa: E731

    def needs_body(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise plain(400, "bad request data")
        return body

    return [
        route("GET", "/api/folders/{uid}", "Viewer", "folders:read",
              lambda params, **_: (200, g.get_folder(params["uid"]))),
        route("POST", "/api/folders", "Editor", "folders:create",
              lambda body, **_: (200, g.create_folder(needs_body(body)))),
        route("PUT", "/api/folders/{uid}", "Editor", "folders:write",
              lambda params, body, **_: (200, g.update_folder(params["uid"], needs_body(body)))),
        route("DELETE", "/api/folders/{uid}", "Editor", "folders:delete",
              lambda params, query, **_: (200, g.delete_folder(params["uid"],
                                                               query.get("forceDeleteRules") == ["true"]))),
        route("GET", "/api/folders/{uid}/permissions", "Admin", "folders.permissions:read",
              lambda params, **_: (200, g.get_permissions(params["uid"]))),
        route("POST", "/api/folders/{uid}/permissions", "Admin", "folders.permissions:write",
              lambda params, body, **_: (200, g.set_permissions(params["uid"], needs_body(body)))),
        route("GET", "/api/teams/search", "Admin", "teams:read",
              lambda query, **_: (200, g.search_teams((query.get("name") or [None])[0]))),
        route("GET", "/api/datasources", "Admin", "datasources:read", lambda **_: (200, g.list_datasources())),
        route("GET", "/api/datasources/uid/{uid}", "Admin", "datasources:read",
              lambda params, **_: (200, g.get_datasource(uid=params["uid"]))),
        route("GET", "/api/datasources/name/{name}", "Admin", "datasources:read",
              lambda params, **_: (200, g.get_datasource(name=params["name"]))),
        route("POST", "/api/datasources", "Admin", "datasources:create",
              lambda body, **_: (200, g.add_datasource(needs_body(body)))),
        route("PUT", "/api/datasources/uid/{uid}", "Admin", "datasources:write",
              lambda params, body, **_: (200, g.update_datasource(params["uid"], needs_body(body)))),
        route("DELETE", "/api/datasources/uid/{uid}", "Admin", "datasources:delete",
              lambda params, **_: (200, g.delete_datasource(params["uid"]))),
        route("GET", "/api/search", "Viewer", "dashboards:read",
              lambda query, **_: (200, g.search(query.get("tag", []), (query.get("type") or [None])[0],
                                                (query.get("query") or [None])[0]))),
        route("POST", "/api/dashboards/db", "Editor", "dashboards:write",
              lambda body, **_: (200, g.save_dashboard(needs_body(body)))),
        route("GET", "/api/dashboards/uid/{uid}", "Viewer", "dashboards:read",
              lambda params, **_: (200, g.get_dashboard(params["uid"]))),
        route("DELETE", "/api/dashboards/uid/{uid}", "Editor", "dashboards:delete",
              lambda params, **_: (200, g.delete_dashboard(params["uid"]))),
        route("GET", "/api/v1/provisioning/alert-rules", "Admin", "alert.provisioning:read",
              lambda **_: (200, g.list_rules())),
        route("DELETE", "/api/v1/provisioning/alert-rules/{uid}", "Admin", "alert.provisioning:write",
              lambda params, headers, **_: (204, g.delete_rule(params["uid"], provenance_off(headers)))),
        route("GET", "/api/v1/provisioning/folder/{folder}/rule-groups/{group}", "Admin", "alert.provisioning:read",
              lambda params, **_: (200, g.get_rule_group(params["folder"], params["group"]))),
        route("PUT", "/api/v1/provisioning/folder/{folder}/rule-groups/{group}", "Admin", "alert.provisioning:write",
              lambda params, headers, body, **_: (200, g.put_rule_group(params["folder"], params["group"],
                                                                        needs_body(body), provenance_off(headers)))),
        route("GET", "/api/v1/provisioning/contact-points", "Admin", "alert.provisioning:read",
              lambda query, **_: (200, g.list_contact_points((query.get("name") or [None])[0]))),
        route("POST", "/api/v1/provisioning/contact-points", "Admin", "alert.provisioning:write",
              lambda headers, body, **_: (202, g.create_contact_point(needs_body(body), provenance_off(headers)))),
        route("PUT", "/api/v1/provisioning/contact-points/{uid}", "Admin", "alert.provisioning:write",
              lambda params, headers, body, **_: (202, g.update_contact_point(params["uid"], needs_body(body),
                                                                              provenance_off(headers)))),
        route("DELETE", "/api/v1/provisioning/contact-points/{uid}", "Admin", "alert.provisioning:write",
              lambda params, **_: (202, g.delete_contact_point(params["uid"]))),
        route("GET", "/api/v1/provisioning/policies", "Admin", "alert.provisioning:read",
              lambda **_: (200, g.get_policy_tree())),
        route("PUT", "/api/v1/provisioning/policies", "Admin", "alert.provisioning:write",
              lambda headers, body, **_: (202, g.set_policy_tree(needs_body(body), provenance_off(headers)))),
        route("DELETE", "/api/v1/provisioning/policies", "Admin", "alert.provisioning:write",
              lambda **_: (202, g.reset_policy_tree())),
        route("GET", "/api/v1/provisioning/mute-timings", "Admin", "alert.provisioning:read",
              lambda **_: (200, g.list_mutes())),
        route("POST", "/api/v1/provisioning/mute-timings", "Admin", "alert.provisioning:write",
              lambda headers, body, **_: (201, g.put_mute(None, needs_body(body), provenance_off(headers)))),
        route("PUT", "/api/v1/provisioning/mute-timings/{name}", "Admin", "alert.provisioning:write",
              lambda params, headers, body, **_: (202, g.put_mute(params["name"], needs_body(body),
                                                                  provenance_off(headers)))),
        route("DELETE", "/api/v1/provisioning/mute-timings/{name}", "Admin", "alert.provisioning:write",
              lambda params, **_: (204, g.delete_mute(params["name"]))),
        route("GET", "/api/v1/provisioning/templates", "Admin", "alert.provisioning:read",
              lambda **_: (200, g.list_templates())),
        route("PUT", "/api/v1/provisioning/templates/{name}", "Admin", "alert.provisioning:write",
              lambda params, headers, body, **_: (202, g.put_template(params["name"], needs_body(body),
                                                                      provenance_off(headers)))),
        route("DELETE", "/api/v1/provisioning/templates/{name}", "Admin", "alert.provisioning:write",
              lambda params, **_: (204, g.delete_template(params["name"]))),
    ]
