"""JsonFormatter: turn a stdlib LogRecord into one redacted JSON object, never raising into the caller."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from exporters import schema
from exporters.chain import CHAINED_TYPES, HASH, ID, PREV, SEQ, HashChain
from exporters.context import current as bound_fields
from exporters.redact import Redactor
from exporters.truncate import MESSAGE_MAX_CHARS, VALUE_MAX_CHARS, shorten

Event = dict[str, Any]
Processor = Callable[[logging.LogRecord, Event], Event]

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName", schema.FIELDS_ATTR, "tags", "_tracklog_chain",
}
_PLAIN_RECORD_SIZE = len(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
_LEVELS = {"WARNING": "warn", "CRITICAL": "critical", "ERROR": "error", "INFO": "info", "DEBUG": "debug"}


_last_second: tuple[int, str] = (-1, "")


def rfc3339(created: float) -> str:
    """RFC 3339 UTC with microseconds, e.g. 2026-11-26T22:46:49.123456Z."""
    global _last_second
    seconds = int(created)
    second, prefix = _last_second  # one tuple read: safe without a lock across threads
    if second != seconds:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _last_second = (seconds, prefix)
    return f"{prefix}.{int((created - seconds) * 1e6):06d}Z"


def _otel_current_span() -> Callable[[], Any] | None:
    """OpenTelemetry's ``trace.get_current_span``, or None when OpenTelemetry is not installed."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace.get_current_span


class JsonFormatter(logging.Formatter):
    """A ``logging.Formatter`` that renders each record as one JSON object in tracklog's schema.

    Usable from ``dictConfig`` as ``{"()": "exporters.JsonFormatter", "service": "tracking-api"}``.

    Args:
        service, env: stamped on every record (default ``$TRACKLOG_SERVICE`` / ``$TRACKLOG_ENV``).
        log_type: for records that do not say theirs (default ``application``).
        redactor: a :class:`Redactor`; ``False`` turns redaction off (it is on by default).
        extra_fields: allow-list of ``extra=`` attribute names to keep; ``None`` keeps all.
        processors: more callables ``(record, event) -> event``, run before redaction.
        code_origin_level: records at or above this level carry ``code.function``/``code.filepath``/``code.lineno``.
        chain: stamp audit and security records with a hash chain (tamper evidence; see exporters.chain).
    """

    def __init__(
        self,
        service: str | None = None,
        env: str | None = None,
        log_type: str = schema.APPLICATION,
        redactor: Redactor | bool | None = None,
        extra_fields: Iterable[str] | None = None,
        processors: Iterable[Processor] = (),
        code_origin_level: int = logging.WARNING,
        chain: bool = True,
        **formatter_kwargs: Any,
    ) -> None:
        super().__init__(**formatter_kwargs)
        self.service = service or os.environ.get("TRACKLOG_SERVICE") or "unknown"
        self.env = env or os.environ.get("TRACKLOG_ENV") or "dev"
        if log_type not in schema.LOG_TYPES:
            raise ValueError(f"log_type must be one of {', '.join(schema.LOG_TYPES)}, got {log_type!r}")
        self.log_type = log_type
        self.redactor: Redactor | None = (
            Redactor() if redactor is None or redactor is True else (redactor or None)
        )
        self.extra_fields = frozenset(extra_fields) if extra_fields is not None else None
        self._current_span = _otel_current_span()
        self.processors = tuple(processors)  # run after the trace context and the bound fields are added
        self.code_origin_level = code_origin_level
        self.chain = HashChain() if chain else None

    def event(self, record: logging.LogRecord) -> Event:
        """The record as a redacted dict in tracklog's schema. Never raises."""
        try:
            return self._event(record)
        except Exception as exc:  # a broken __str__ or processor must not reach the caller
            return {
                "timestamp": rfc3339(record.created), "level": "error", "log_type": self.log_type,
                "service": self.service, "env": self.env, "message": "tracklog: could not format a log record",
                "tracklog.format_error": f"{type(exc).__name__}: {_safe_str(exc)}",
                "logger": _safe_str(getattr(record, "name", "")),
            }

    def _event(self, record: logging.LogRecord) -> Event:
        try:
            message = record.getMessage()
        except Exception as exc:
            message = f"{_safe_str(record.msg)} (tracklog: bad format args: {type(exc).__name__})"
        fields: dict[str, Any] = getattr(record, schema.FIELDS_ATTR, None) or {}
        log_type = fields.get(schema.LOG_TYPE) or getattr(record, "log_type", None) or self.log_type
        event: Event = {
            "timestamp": rfc3339(record.created),
            "level": _LEVELS.get(record.levelname, record.levelname.lower()),
            "log_type": log_type,
            "service": self.service,
            "env": self.env,
            "logger": record.name,
            "message": message,
        }
        if fields:
            event.update(fields)
            event["log_type"] = log_type  # the fields' own, unless it was empty
        attrs = record.__dict__
        # A record with no extras has only the standard attributes (and the helpers' fields): skip the set difference.
        plain = len(attrs) == _PLAIN_RECORD_SIZE + (schema.FIELDS_ATTR in attrs)
        extras = () if plain else attrs.keys() - _RECORD_ATTRS
        if extras:
            for key in extras if len(extras) == 1 else [k for k in attrs if k in extras]:  # keep their order
                if key != "log_type" and (self.extra_fields is None or key in self.extra_fields):
                    event[key] = attrs[key]
        if record.levelno >= self.code_origin_level:
            event.setdefault(schema.CODE_FUNCTION, record.funcName)
            event.setdefault(schema.CODE_FILEPATH, record.pathname)
            event.setdefault(schema.CODE_LINENO, record.lineno)
        if record.exc_info and record.exc_info[1] is not None:
            for key, value in schema.error_fields(record.exc_info[1]).items():
                event.setdefault(key, value)
        elif record.stack_info:
            event[schema.STACKTRACE] = record.stack_info
        if self._current_span is not None:  # trace context of the active span; inline, as bound fields: every record
            span = self._current_span().get_span_context()
            if span.is_valid and schema.TRACE_ID not in event:
                event[schema.TRACE_ID] = format(span.trace_id, "032x")
                event[schema.SPAN_ID] = format(span.span_id, "016x")
        bound = bound_fields()
        if bound:  # fields bound to the request or task, without overriding what the record itself says
            for key, value in bound.items():
                event.setdefault(key, value)
        built = event
        for processor in self.processors:
            event = processor(record, event)
        if event["log_type"] not in schema.LOG_TYPES:
            event["log_type"] = self.log_type
        if self.redactor is not None:
            # The dict built above is ours to change; one a processor returned instead may be shared: copy it.
            event = self.redactor.redact_in_place(event) if event is built else self.redactor.fields(event)
        if isinstance(event["message"], str) and len(event["message"]) > MESSAGE_MAX_CHARS:
            event["message"] = shorten(event["message"], MESSAGE_MAX_CHARS)
        for key in extras:  # after redaction, so a cut never leaves half a secret readable
            value = event.get(key)
            if isinstance(value, str) and len(value) > VALUE_MAX_CHARS:
                event[key] = shorten(value, VALUE_MAX_CHARS)
        if self.chain is not None and event["log_type"] in CHAINED_TYPES:
            stamped = getattr(record, "_tracklog_chain", None)
            if stamped is None:  # the first handler to format this record links it; others reuse the link
                event = self.chain(event)
                record._tracklog_chain = {k: event[k] for k in (ID, SEQ, PREV, HASH)}
            else:
                event.update(stamped)
        return event

    def render(self, event: Event) -> str:
        try:
            return orjson.dumps(event, default=_safe_str, option=orjson.OPT_NON_STR_KEYS).decode()
        except (TypeError, ValueError):  # surrogates, 64-bit overflow, deep or circular structures: the slow path
            pass
        try:
            return json.dumps(event, ensure_ascii=False, default=_safe_str, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:  # circular structures, non-string keys, NaN (not JSON; breaks `| json`)
            safe = {str(k): v if isinstance(v, str | int | bool | None) or (isinstance(v, float) and math.isfinite(v))
                    else _safe_str(v) for k, v in event.items()}
            safe["tracklog.format_error"] = f"{type(exc).__name__}: {exc}"
            return json.dumps(safe, ensure_ascii=False, separators=(",", ":"))

    def format(self, record: logging.LogRecord) -> str:
        return self.render(self.event(record))


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f"<unprintable {type(value).__name__}>"
