"""The four log types, their field names (OpenTelemetry semantic conventions), and one-call helpers for common events.

Each helper logs one record through a stdlib logger with the level and message the event calls for, and puts
its typed fields on the record under ``FIELDS_ATTR``, which the JSON formatter and the derived metrics read.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Mapping
from typing import Any

from exporters.truncate import STACK_MAX_CHARS, VALUE_MAX_CHARS, shorten, shorten_head

APPLICATION, SYSTEM, AUDIT, SECURITY = "application", "system", "audit", "security"
LOG_TYPES = (APPLICATION, SYSTEM, AUDIT, SECURITY)
FIELDS_ATTR = "tracklog_fields"

# Field names, after OpenTelemetry semantic conventions where one exists; domain fields are namespaced.
EVENT_NAME = "event.name"
LOG_TYPE = "log_type"
HTTP_ROUTE = "http.route"
HTTP_METHOD = "http.request.method"
HTTP_STATUS = "http.response.status_code"
HTTP_DURATION = "http.server.request.duration"
URL_PATH = "url.path"
CLIENT_ADDRESS = "client.address"
CLIENT_COUNTRY = "client.geo.country_iso_code"
USER_ID = "user.id"
REQUEST_ID = "request.id"
ERROR_TYPE = "error.type"
ERROR_MESSAGE = "error.message"
STACKTRACE = "exception.stacktrace"
CODE_FUNCTION = "code.function"
CODE_FILEPATH = "code.filepath"
CODE_LINENO = "code.lineno"
DB_SYSTEM = "db.system"
DB_OPERATION = "db.operation.name"
DB_QUERY = "db.query.text"
DB_DURATION = "db.query.duration"
DB_TIMEOUT = "db.query.timeout"
AUTH_OUTCOME = "auth.outcome"
AUTH_REASON = "auth.reason"
AUTH_ROLE = "auth.role"
AUDIT_ACTOR = "audit.actor"
AUDIT_TARGET = "audit.target"
AUDIT_BEFORE = "audit.before"
AUDIT_AFTER = "audit.after"
UI_ACTION = "ui.action"
ORDER_ID = "order.id"
COURIER_ID = "courier.id"
TRACE_ID = "trace_id"
SPAN_ID = "span_id"
SERVICE_VERSION = "service.version"
LIFECYCLE_PHASE = "service.lifecycle"
CPU = "process.cpu.utilization"
MEMORY = "process.memory.usage"
OPEN_FILES = "process.open_file_descriptor.count"
THREADS = "process.thread.count"

_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|\$\d+")
_IN_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_SPACES = re.compile(r"\s+")


def fingerprint_sql(statement: str) -> str:
    """Replace literals with ``?`` and fold whitespace: the statement's shape, without the values it carried."""
    shape = _LITERALS.sub("?", statement)
    shape = _IN_LIST.sub("(?)", shape)
    return _SPACES.sub(" ", shape).strip()


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def log(logger: logging.Logger, level: int, message: str, fields: Mapping[str, Any], **extra: Any) -> None:
    """Log one record with typed fields; the base of every helper below."""
    if not logger.isEnabledFor(level):
        return
    extra = {FIELDS_ATTR: dict(fields), **extra}
    if not isinstance(logger, logging.Logger):  # a LoggerAdapter: its own path
        logger.log(level, message, extra=extra, stacklevel=3)
        return
    # What Logger.log does, without findCaller's walk over the stack: the helper's caller is two frames up.
    try:
        frame = sys._getframe(2)
        code = frame.f_code
        filename, lineno, function = code.co_filename, frame.f_lineno, code.co_name
    except ValueError:
        filename, lineno, function = "(unknown file)", 0, "(unknown function)"
    logger.handle(logger.makeRecord(logger.name, level, filename, lineno, message, (), None, function, extra))


def http_request(
    logger: logging.Logger,
    *,
    route: str,
    method: str,
    status: int,
    duration_s: float,
    path: str | None = None,
    client_address: str | None = None,
    user_id: str | None = None,
    request_id: str | None = None,
    **fields: Any,
) -> None:
    """One served HTTP request (application log). ``route`` is the template (``/orders/{id}``), not the path."""
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    method = method.upper()
    data = {
        LOG_TYPE: APPLICATION, EVENT_NAME: "http.request", HTTP_ROUTE: route, HTTP_METHOD: method,
        HTTP_STATUS: int(status), HTTP_DURATION: round(float(duration_s), 6),
    }
    # The most frequent record of a service: the optional fields are set inline rather than through _put.
    if path is not None:
        data[URL_PATH] = path
    if client_address is not None:
        data[CLIENT_ADDRESS] = client_address
    if user_id is not None:
        data[USER_ID] = user_id
    if request_id is not None:
        data[REQUEST_ID] = request_id
    if fields:
        data.update(fields)
    log(logger, level, f"{method} {route} {status} {duration_s * 1000:.1f}ms", data)


def db_query(
    logger: logging.Logger,
    *,
    statement: str,
    duration_s: float,
    timed_out: bool = False,
    system: str = "postgresql",
    operation: str | None = None,
    **fields: Any,
) -> None:
    """One database query; the statement is logged as its fingerprint, never with its values."""
    text = fingerprint_sql(statement)
    op = operation or (text.split(" ", 1)[0].upper() if text else "")
    data = {
        LOG_TYPE: APPLICATION, EVENT_NAME: "db.query", DB_SYSTEM: system, DB_OPERATION: op,
        DB_QUERY: text, DB_DURATION: round(float(duration_s), 6), DB_TIMEOUT: bool(timed_out),
    }
    data.update(fields)
    level = logging.ERROR if timed_out else logging.WARNING if duration_s >= 1.0 else logging.INFO
    message = f"db {op} {'timed out after' if timed_out else 'took'} {duration_s * 1000:.0f}ms"
    log(logger, level, message, data)


def error(logger: logging.Logger, exc: BaseException, message: str | None = None, **fields: Any) -> None:
    """An error with its origin: type, message, stack and the function, file and line that raised it."""
    data = {LOG_TYPE: APPLICATION, EVENT_NAME: "error", **error_fields(exc), **fields}
    log(logger, logging.ERROR, message or f"{type(exc).__name__}: {_text(exc)}", data)


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # an exception whose __str__ raises must not raise again in the caller's except block
        return f"<unprintable {type(exc).__name__}>"


def error_fields(exc: BaseException) -> dict[str, Any]:
    data: dict[str, Any] = {ERROR_TYPE: type(exc).__qualname__, ERROR_MESSAGE: shorten(_text(exc), VALUE_MAX_CHARS)}
    tb = exc.__traceback__
    if tb is not None:
        last = traceback.extract_tb(tb)[-1]
        data.update({CODE_FUNCTION: last.name, CODE_FILEPATH: last.filename, CODE_LINENO: last.lineno})
    data[STACKTRACE] = shorten_head("".join(traceback.format_exception(type(exc), exc, tb)), STACK_MAX_CHARS)
    return data


def login_attempt(
    logger: logging.Logger,
    *,
    user_id: str,
    outcome: str,
    client_address: str,
    reason: str | None = None,
    country: str | None = None,
    **fields: Any,
) -> None:
    """A login attempt (security log). ``outcome`` is ``success`` or ``failure``; ``reason`` says why it failed."""
    data = {LOG_TYPE: SECURITY, EVENT_NAME: "auth.login", USER_ID: user_id, AUTH_OUTCOME: outcome,
            CLIENT_ADDRESS: client_address}
    _put(data, AUTH_REASON, reason)
    _put(data, CLIENT_COUNTRY, country)
    data.update(fields)
    level = logging.INFO if outcome == "success" else logging.WARNING
    log(logger, level, f"login {outcome} for {user_id}" + (f" ({reason})" if reason else ""), data)


def permission_change(
    logger: logging.Logger, *, actor: str, target: str, role: str, before: Any, after: Any, **fields: Any
) -> None:
    """A change of someone's permissions (audit log): who changed whose role, from what to what."""
    data = {LOG_TYPE: AUDIT, EVENT_NAME: "permission.change", AUDIT_ACTOR: actor, AUDIT_TARGET: target,
            AUTH_ROLE: role, AUDIT_BEFORE: before, AUDIT_AFTER: after, **fields}
    log(logger, logging.WARNING, f"{actor} changed {role} of {target}: {before} -> {after}", data)


def access_denied(logger: logging.Logger, *, user_id: str, resource: str, required_role: str,
                  client_address: str | None = None, **fields: Any) -> None:
    """A request refused for lack of a role (security log): who tried what, needing which role."""
    data = {LOG_TYPE: SECURITY, EVENT_NAME: "authz.denied", USER_ID: user_id, URL_PATH: resource,
            AUTH_ROLE: required_role, **fields}
    _put(data, CLIENT_ADDRESS, client_address)
    log(logger, logging.WARNING, f"access denied: {user_id} needs {required_role} for {resource}", data)


def user_action(logger: logging.Logger, *, user_id: str, action: str, **fields: Any) -> None:
    """A user's action in the tracking UI (open map, refresh, change location settings): audit log."""
    data = {LOG_TYPE: AUDIT, EVENT_NAME: "ui.action", USER_ID: user_id, UI_ACTION: action, **fields}
    log(logger, logging.INFO, f"user {user_id} {action}", data)


def lifecycle(logger: logging.Logger, *, phase: str, version: str | None = None, **fields: Any) -> None:
    """A service start-up or shutdown (system log); ``phase`` is ``start`` or ``stop``."""
    data = {LOG_TYPE: SYSTEM, EVENT_NAME: f"service.{phase}", LIFECYCLE_PHASE: phase, **fields}
    _put(data, SERVICE_VERSION, version)
    log(logger, logging.INFO, f"service {phase}", data)


def resource_usage(
    logger: logging.Logger, *, cpu: float, memory_bytes: int, open_files: int, threads: int, **fields: Any
) -> None:
    """A resource-usage sample (system log): CPU as a 0..1 fraction of one core, memory in bytes."""
    data = {LOG_TYPE: SYSTEM, EVENT_NAME: "process.usage", CPU: round(cpu, 4), MEMORY: int(memory_bytes),
            OPEN_FILES: int(open_files), THREADS: int(threads), **fields}
    log(logger, logging.INFO if cpu < 0.9 else logging.WARNING, "resource usage", data)


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        data[key] = value
