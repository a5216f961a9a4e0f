"""Faro's payload (``meta`` + ``logs``, ``exceptions``, ``events``, ``measurements``, ``traces``) as tracklog records.

The payload is what ``@grafana/faro-web-sdk``'s fetch transport POSTs: ``getTransportBody`` in faro-core
(``src/transports/utils.ts``) groups the items under ``logs``, ``exceptions``, ``events`` and ``measurements``
(``transportItemTypeToBodyKey``, ``src/transports/const.ts``) and ``traces`` as OTLP JSON ``resourceSpans``; the
item shapes are ``LogEvent``, ``ExceptionEvent``, ``EventEvent`` and ``MeasurementEvent`` in ``src/api/*/types.ts``
and ``Meta`` in ``src/metas/types.ts``. Every field arrives from a browser: each is read defensively, and a
malformed item becomes no record rather than an error for its whole batch.

- user actions (events outside Faro's own ``browser`` domain) -> audit ``ui.action`` records, ``ui.action`` the
  event's name (``map.open``), with the user and the session;
- Faro's own events (``session_start``, ``faro.performance.navigation`` ...) -> application records;
- exceptions -> application ``error`` records with ``error.type``, the stack and ``code.function`` of the top frame;
- logs -> application records at the browser's level;
- measurements (``web-vitals`` and the page's own, e.g. ``map.load``) -> application ``browser.measurement`` records;
- spans -> application ``browser.span`` records, so the page's side of a trace shows in ``tracklog trace``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from exporters import schema
from exporters.truncate import STACK_MAX_CHARS, VALUE_MAX_CHARS, shorten, shorten_head

BROWSER_DOMAIN = "browser"  # the domain of the events Faro's instrumentations push themselves
WEB_VITALS = "web-vitals"
SESSION_ID = "faro.session"  # not session.id: the redactor masks any session id, as it must for login sessions
USER_NAME = "user.name"
URL_FULL = "url.full"
BROWSER_NAME = "browser.name"
BROWSER_VERSION = "browser.version"
BROWSER_TIMESTAMP = "browser.timestamp"
EVENT_DOMAIN = "event.domain"
EVENT_ATTRIBUTES = "event.attributes"
CODE_COLUMN = "code.column"
MEASUREMENT_TYPE = "measurement.type"
MEASUREMENT_VALUES = "measurement.values"
MEASUREMENT_CONTEXT = "measurement.context"
WEB_VITAL = "web_vital.name"
WEB_VITAL_VALUE = "web_vital.value"
WEB_VITAL_RATING = "web_vital.rating"
SPAN_NAME = "span.name"
SPAN_PARENT = "span.parent_id"
SPAN_DURATION = "span.duration"
FARO_SDK = "faro.sdk.version"

_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "log": logging.INFO,
           "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR}
_HEX = frozenset("0123456789abcdef")
_MAX_ITEMS = 1000  # per kind and payload; a body within the size limit holds far fewer


@dataclass(frozen=True, slots=True)
class Record:
    """One tracklog record made from one Faro item: level, message and typed fields (schema names)."""

    level: int
    message: str
    fields: dict[str, Any]


def records(payload: Mapping[str, Any], service: str) -> Iterator[Record]:
    """The records of one Faro payload, in the order the SDK grouped them; ``service`` names the app."""
    meta = _mapping(payload.get("meta"))
    common = meta_fields(meta, service)
    for kind, convert in (("events", _event), ("exceptions", _exception), ("logs", _log),
                          ("measurements", _measurement)):
        for item in _items(payload.get(kind)):
            record = convert(item, common)
            if record is not None:
                yield record
    yield from _spans(_mapping(payload.get("traces")), common)


def meta_fields(meta: Mapping[str, Any], service: str) -> dict[str, Any]:
    """Fields every record of the payload carries: service, session, user, page and browser (no e-mail address)."""
    app, user, session = _mapping(meta.get("app")), _mapping(meta.get("user")), _mapping(meta.get("session"))
    page, browser, sdk = _mapping(meta.get("page")), _mapping(meta.get("browser")), _mapping(meta.get("sdk"))
    fields: dict[str, Any] = {"service": service}
    _put(fields, schema.SERVICE_VERSION, app.get("version"))
    _put(fields, SESSION_ID, session.get("id"))
    _put(fields, schema.USER_ID, user.get("id"))
    _put(fields, USER_NAME, user.get("username"))
    url = _text(page.get("url"))
    if url:
        fields[URL_FULL] = url
        path = _path(url)
        if path:
            fields[schema.URL_PATH] = path
    _put(fields, BROWSER_NAME, browser.get("name"))
    _put(fields, BROWSER_VERSION, browser.get("version"))
    _put(fields, FARO_SDK, sdk.get("version"))
    return fields


def _event(item: Mapping[str, Any], common: dict[str, Any]) -> Record | None:
    name = _text(item.get("name"))
    if not name:
        return None
    domain = _text(item.get("domain"))
    fields = _base(item, common)
    _put(fields, EVENT_DOMAIN, domain)
    attributes = _strings(item.get("attributes"))
    if attributes:
        fields[EVENT_ATTRIBUTES] = attributes
    if domain == BROWSER_DOMAIN or name.startswith("faro."):
        fields.update({schema.LOG_TYPE: schema.APPLICATION, schema.EVENT_NAME: f"browser.{name}"})
        return Record(logging.INFO, f"browser {name}", fields)
    fields.update({schema.LOG_TYPE: schema.AUDIT, schema.EVENT_NAME: "ui.action", schema.UI_ACTION: name})
    who = fields.get(schema.USER_ID) or "anonymous"
    return Record(logging.INFO, f"user {who} {name}", fields)


def _exception(item: Mapping[str, Any], common: dict[str, Any]) -> Record | None:
    kind = _text(item.get("type")) or "Error"
    value = _text(item.get("value")) or ""
    fields = _base(item, common)
    fields.update({schema.LOG_TYPE: schema.APPLICATION, schema.EVENT_NAME: "error",
                   schema.ERROR_TYPE: kind, schema.ERROR_MESSAGE: shorten(value, VALUE_MAX_CHARS)})
    frames = [f for f in _items(_mapping(item.get("stacktrace")).get("frames")) if _text(f.get("filename"))
              or _text(f.get("function"))]
    if frames:
        top = frames[0]  # the SDK's parser keeps the stack's order: the frame that threw comes first
        _put(fields, schema.CODE_FUNCTION, top.get("function"))
        _put(fields, schema.CODE_FILEPATH, top.get("filename"))
        _put(fields, schema.CODE_LINENO, _int(top.get("lineno")))
        _put(fields, CODE_COLUMN, _int(top.get("colno")))
        fields[schema.STACKTRACE] = shorten_head(_stack(kind, value, frames), STACK_MAX_CHARS)
    if item.get("fatal") is True:
        fields["error.fatal"] = True
    context = _strings(item.get("context"))
    if context:
        fields["error.context"] = context
    return Record(logging.ERROR, f"{kind}: {value}" if value else kind, fields)


def _log(item: Mapping[str, Any], common: dict[str, Any]) -> Record | None:
    message = _text(item.get("message"))
    if message is None:
        return None
    fields = _base(item, common)
    fields.update({schema.LOG_TYPE: schema.APPLICATION, schema.EVENT_NAME: "browser.log"})
    context = _strings(item.get("context"))
    if context:
        fields["log.context"] = context
    level = _LEVELS.get((_text(item.get("level")) or "info").lower(), logging.INFO)
    return Record(level, message, fields)


def _measurement(item: Mapping[str, Any], common: dict[str, Any]) -> Record | None:
    kind = _text(item.get("type"))
    values = {str(k): v for k, v in _mapping(item.get("values")).items()
              if isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")}
    if not kind or not values:
        return None
    fields = _base(item, common)
    fields.update({schema.LOG_TYPE: schema.APPLICATION, schema.EVENT_NAME: "browser.measurement",
                   MEASUREMENT_TYPE: kind, MEASUREMENT_VALUES: values})
    context = _strings(item.get("context"))
    if kind == WEB_VITALS:
        # The web-vitals instrumentation puts the vital first ({lcp: 136, delta: 136, ...}) and its rating in context.
        vital = next((k for k in values if k != "delta"), None)
        if vital is not None:
            fields.update({WEB_VITAL: vital, WEB_VITAL_VALUE: values[vital]})
            _put(fields, WEB_VITAL_RATING, context.pop("rating", None))
            message = f"web vital {vital} {values[vital]:g}"
        else:
            message = "web vitals"
    else:
        message = f"measurement {kind} " + " ".join(f"{k}={v:g}" for k, v in values.items())
    if context:
        fields[MEASUREMENT_CONTEXT] = context
    return Record(logging.INFO, message, fields)


def _spans(traces: Mapping[str, Any], common: dict[str, Any]) -> Iterator[Record]:
    for resource in _items(traces.get("resourceSpans")):
        for scope in _items(resource.get("scopeSpans")):
            for span in _items(scope.get("spans")):
                trace_id, span_id = _trace_id(span.get("traceId")), _span_id(span.get("spanId"))
                name = _text(span.get("name")) or "span"
                if trace_id is None or span_id is None:
                    continue
                fields = {**common, schema.LOG_TYPE: schema.APPLICATION, schema.EVENT_NAME: "browser.span",
                          SPAN_NAME: name, schema.TRACE_ID: trace_id, schema.SPAN_ID: span_id}
                _put(fields, SPAN_PARENT, _span_id(span.get("parentSpanId")))
                start, end = _int(span.get("startTimeUnixNano")), _int(span.get("endTimeUnixNano"))
                if start is not None and end is not None and end >= start:
                    fields[SPAN_DURATION] = round((end - start) / 1e9, 6)
                attributes = _otlp_attributes(span.get("attributes"))
                for key in (schema.HTTP_METHOD, URL_FULL, schema.HTTP_STATUS):
                    _put(fields, f"span.{key}" if key == URL_FULL else key, attributes.get(key))
                status = fields.get(schema.HTTP_STATUS)
                level = logging.WARNING if isinstance(status, int) and status >= 500 else logging.INFO
                yield Record(level, f"browser span {name}", fields)


# -- helpers: every value came from a browser --------------------------------------------------------------------


def _base(item: Mapping[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    fields = dict(common)
    _put(fields, BROWSER_TIMESTAMP, _text(item.get("timestamp")))
    trace = _mapping(item.get("trace"))
    trace_id, span_id = _trace_id(trace.get("trace_id")), _span_id(trace.get("span_id"))
    if trace_id is not None:
        fields[schema.TRACE_ID] = trace_id
        _put(fields, schema.SPAN_ID, span_id)
    action = _mapping(item.get("action"))
    _put(fields, "ui.action.parent", _text(action.get("name")))
    return fields


def _stack(kind: str, value: str, frames: list[Mapping[str, Any]]) -> str:
    lines = [f"{kind}: {value}" if value else kind]
    for frame in frames:
        where = ":".join(str(p) for p in (_text(frame.get("filename")) or "?", _int(frame.get("lineno")),
                                           _int(frame.get("colno"))) if p is not None)
        lines.append(f"    at {_text(frame.get('function')) or '?'} ({where})")
    return "\n".join(lines)


def _otlp_attributes(value: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for attribute in _items(value):
        key, wrapped = _text(attribute.get("key")), _mapping(attribute.get("value"))
        if key and wrapped:
            kind, raw = next(iter(wrapped.items()))
            found[key] = _int(raw) if kind == "intValue" else raw if kind in ("stringValue", "boolValue",
                                                                                "doubleValue") else None
    return found


def _items(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value[:_MAX_ITEMS]:
            if isinstance(item, Mapping):
                yield item


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> dict[str, str]:
    """A Faro attribute/context map (``Record<string, string>``), shortened; other values are dropped."""
    return {str(k)[:200]: shorten(v, VALUE_MAX_CHARS) for k, v in _mapping(value).items() if isinstance(v, str)}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _trace_id(value: Any) -> str | None:
    text = _text(value)
    text = text.lower() if text else None
    return text if text and len(text) == 32 and set(text) <= _HEX and text != "0" * 32 else None


def _span_id(value: Any) -> str | None:
    text = _text(value)
    text = text.lower() if text else None
    return text if text and len(text) == 16 and set(text) <= _HEX and text != "0" * 16 else None


def _path(url: str) -> str | None:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return None


def _put(fields: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        fields[key] = shorten(value, VALUE_MAX_CHARS) if isinstance(value, str) else value
