"""auth: POST /login (security log for every attempt) and role grants by admins (audit log)."""

from __future__ import annotations

import logging
import secrets
import threading
import time

from demo.directory import ACCOUNTS, ADMIN_ROLE, BY_ID, country_of
from demo.web_kit import Request, Response, Router, WsgiApp
from exporters import schema

LOCKOUT_AFTER = 5  # consecutive failures
LOCKOUT_SECONDS = 60.0


def build(log: logging.Logger) -> WsgiApp:
    router = Router()
    lock = threading.Lock()
    failures: dict[str, int] = {}
    locked_until: dict[str, float] = {}
    sessions: dict[str, str] = {}  # token -> user id
    roles = {a.user_id: set(a.roles) for a in ACCOUNTS.values()}

    def attempt(request: Request, user_id: str, outcome: str, reason: str | None = None, **fields: object) -> None:
        schema.login_attempt(log, user_id=user_id, outcome=outcome, reason=reason,
                             client_address=request.client_address, country=country_of(request.client_address),
                             **{"user_agent.original": request.header("User-Agent"), **fields,
                                **({"user.roles": sorted(roles[user_id])} if user_id in roles else {})})

    @router.route("POST", "/login")
    def login(request: Request) -> Response:
        name = str(request.body.get("username", ""))
        account = ACCOUNTS.get(name)
        if account is None:
            attempt(request, name or "-", "failure", "unknown_user")
            return 401, {"error": "invalid credentials"}
        with lock:
            if locked_until.get(name, 0.0) > time.time():
                attempt(request, account.user_id, "failure", "locked", **{"user.name": name})
                return 423, {"error": "account locked"}
        if not account.check(str(request.body.get("password", ""))):
            with lock:
                failures[name] = failures.get(name, 0) + 1
                if failures[name] >= LOCKOUT_AFTER:
                    locked_until[name], failures[name] = time.time() + LOCKOUT_SECONDS, 0
            attempt(request, account.user_id, "failure", "bad_password", **{"user.name": name})
            return 401, {"error": "invalid credentials"}
        token = secrets.token_urlsafe(24)
        with lock:
            failures.pop(name, None)
            sessions[token] = account.user_id
        attempt(request, account.user_id, "success", **{"user.name": name})
        return 200, {"user_id": account.user_id, "token": token}

    @router.route("POST", "/admin/users/{id}/roles")
    def grant_role(request: Request) -> Response:
        token = request.header("Authorization").removeprefix("Bearer ").strip()
        with lock:
            actor = sessions.get(token)
        if actor is None or ADMIN_ROLE not in roles.get(actor, set()):
            log.warning("role grant refused", extra={schema.LOG_TYPE: schema.SECURITY, schema.USER_ID: actor or "-",
                                                     schema.CLIENT_ADDRESS: request.client_address})
            return 403, {"error": "admin role required"}
        target, role = request.params["id"], str(request.body.get("role", ""))
        if target not in BY_ID or not role:
            return 404, {"error": f"no user {target}"}
        with lock:
            before = sorted(roles[target])
            roles[target].add(role)
            after = sorted(roles[target])
        schema.permission_change(log, actor=BY_ID[actor].username, target=target, role=role, before=before,
                                 after=after, **{schema.CLIENT_ADDRESS: request.client_address,
                                                 "user.name": BY_ID[target].username})
        return 200, {"user_id": target, "roles": after}

    return router
