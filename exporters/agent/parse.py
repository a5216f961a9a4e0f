"""Turn one line of a non-Python source into what the agent ships: a timestamp, a line and maybe a level.

Formats (``agent.sources[].format`` in tracklog.yaml):

- ``json``: one JSON object per line, shipped unchanged. The timestamp comes from ``time``, ``timestamp`` or
  ``ts`` (RFC 3339 or epoch seconds/ms/us/ns), else the read time; the level from ``level`` or ``severity``.
- ``logfmt``: ``key=value`` pairs (values may be double-quoted, with backslash escapes).
- ``regex``: the named groups of the source's regex; group ``time`` may be nginx's ``%d/%b/%Y:%H:%M:%S %z``,
  RFC 3339 or an epoch.
- ``plain``: the line as is, stamped with the read time.

``logfmt`` and ``regex`` lines are shipped as one JSON object in tracklog's schema:
``{"timestamp", "level", "log_type", "service", "message", ...fields}``. ``message`` is the ``msg``/``message``
field, else ``"<method> <path> <status>"`` for an HTTP line, else the original line. Field names are mapped
(``FIELD_NAMES``) where an OpenTelemetry name is obvious; other fields keep their names:

====================================  ==========================================
parsed field                          shipped as
====================================  ==========================================
client_address, remote_addr           client.address
method                                http.request.method
path                                  url.path
status                                http.response.status_code (int)
bytes, body_bytes_sent                http.response.body.size (int)
referer, http_referer                 http.request.header.referer
user_agent, http_user_agent           user_agent.original
query, statement                      db.query.text (as its fingerprint: literals become ``?``)
====================================  ==========================================

Levels (``level``/``severity``) are normalised to debug/info/warn/error (``LEVELS``); unknown values are kept
in the body, and the line gets no level of its own.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from exporters import schema

FORMATS = ("json", "logfmt", "regex", "plain")
TIME_FIELDS = ("time", "timestamp", "ts")
LEVEL_FIELDS = ("level", "severity")
MESSAGE_FIELDS = ("msg", "message")
CORE_FIELDS = ("timestamp", "level", "log_type", "service", "message")

FIELD_NAMES = {
    "client_address": schema.CLIENT_ADDRESS,
    "remote_addr": schema.CLIENT_ADDRESS,
    "method": schema.HTTP_METHOD,
    "path": schema.URL_PATH,
    "status": schema.HTTP_STATUS,
    "bytes": "http.response.body.size",
    "body_bytes_sent": "http.response.body.size",
    "referer": "http.request.header.referer",
    "http_referer": "http.request.header.referer",
    "user_agent": "user_agent.original",
    "http_user_agent": "user_agent.original",
    "query": schema.DB_QUERY,
    "statement": schema.DB_QUERY,
}
INT_FIELDS = frozenset({schema.HTTP_STATUS, "http.response.body.size"})

LEVELS = {
    "trace": "debug", "debug": "debug",
    "info": "info", "information": "info", "informational": "info", "notice": "info", "log": "info",
    "warn": "warn", "warning": "warn",
    "error": "error", "err": "error", "fatal": "error", "critical": "error", "crit": "error",
    "alert": "error", "emerg": "error", "emergency": "error", "panic": "error",
}

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?(Z|z|[+-]\d{2}:?\d{2})?$"
)
_NGINX = re.compile(r"^(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_EPOCH = re.compile(r"^\d+(?:\.\d+)?$")
_LOGFMT = re.compile(r'([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|[^\s]*))?')


class Parsed(NamedTuple):
    """What to push for one line."""

    timestamp_ns: int
    line: str
    level: str | None


Parser = Callable[[str, int], Parsed]


def make_parser(fmt: str, *, regex: str = "", service: str = "", log_type: str = "application") -> Parser:
    """Return ``parse(line, read_time_ns) -> Parsed`` for one source format.

    Args:
        fmt: one of ``FORMATS``.
        regex: the pattern with named groups, for ``regex``.
        service, log_type: written into the JSON object shipped for ``logfmt`` and ``regex`` lines.

    Raises:
        ValueError: an unknown format or an invalid regex.
    """
    if fmt == "json":
        return parse_json
    if fmt == "plain":
        return lambda line, read_ns: Parsed(read_ns, line, None)
    if fmt == "logfmt":
        return lambda line, read_ns: to_record(parse_logfmt(line), line, read_ns, service, log_type)
    if fmt == "regex":
        pattern = re.compile(regex)
        if not pattern.groupindex:
            raise ValueError(f"the regex of a 'regex' source needs named groups, got {regex!r}")

        def parse_regex(line: str, read_ns: int) -> Parsed:
            match = pattern.search(line)
            fields = {k: v for k, v in match.groupdict().items() if v is not None} if match else {}
            return to_record(fields, line, read_ns, service, log_type)

        return parse_regex
    raise ValueError(f"unknown agent source format {fmt!r}; the formats are {', '.join(FORMATS)}")


def parse_json(line: str, read_ns: int) -> Parsed:
    """Ship the original line; take its time and level from its fields when they parse."""
    try:
        data = orjson.loads(line)
    except ValueError:
        try:  # what orjson refuses and Python reads: NaN, integers beyond 64 bits
            data = json.loads(line)
        except ValueError:
            return Parsed(read_ns, line, None)
    if not isinstance(data, dict):
        return Parsed(read_ns, line, None)
    ts = next((t for t in (parse_time(data[k]) for k in TIME_FIELDS if k in data) if t is not None), read_ns)
    level = next((lv for lv in (normalize_level(data[k]) for k in LEVEL_FIELDS if k in data) if lv), None)
    return Parsed(ts, line, level)


def parse_logfmt(line: str) -> dict[str, str]:
    """``a=1 b="two words" flag`` -> ``{"a": "1", "b": "two words", "flag": "true"}``."""
    fields: dict[str, str] = {}
    for match in _LOGFMT.finditer(line):
        key, value = match.group(1), match.group(2)
        if value is None:
            fields[key] = "true"
        elif value.startswith('"'):
            try:
                fields[key] = json.loads(value)
            except ValueError:
                fields[key] = value[1:-1]
        else:
            fields[key] = value
    return fields


def to_record(fields: dict[str, str], original: str, read_ns: int, service: str, log_type: str) -> Parsed:
    """Build the schema JSON object for parsed fields (see the module docstring for the mapping)."""
    fields = dict(fields)
    ts = read_ns
    for key in TIME_FIELDS:
        parsed = parse_time(fields[key]) if key in fields else None
        if parsed is not None:
            ts = parsed
            del fields[key]
            break
    level = None
    for key in LEVEL_FIELDS:
        level = normalize_level(fields[key]) if key in fields else None
        if level is not None:
            del fields[key]
            break
    message = next((fields.pop(k) for k in MESSAGE_FIELDS if k in fields), None)
    if message is None:
        message = _http_message(fields) or original
    event: dict[str, Any] = {
        "timestamp": rfc3339_ns(ts), "level": level or "info", "log_type": log_type, "service": service,
        "message": message,
    }
    for key, value in fields.items():
        name = FIELD_NAMES.get(key, key)
        if name in CORE_FIELDS:
            name += ".original"
        event[name] = _typed(name, value)
    try:
        body = orjson.dumps(event).decode()
    except TypeError:  # lone surrogates from a file that is not UTF-8
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return Parsed(ts, body, level or "info")


def normalize_level(value: object) -> str | None:
    """Map a level or severity name to debug/info/warn/error; None when unknown."""
    text = str(value).strip().lower()
    if text.startswith("debug"):  # PostgreSQL's DEBUG1..DEBUG5
        return "debug"
    return LEVELS.get(text)


def parse_time(value: object) -> int | None:
    """Nanoseconds since the epoch from RFC 3339, nginx's time_local, or epoch s/ms/us/ns; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _epoch_ns(float(value), str(value))
    text = str(value).strip()
    if text == _last_time[0]:  # consecutive lines of a log mostly share their (second-resolution) time
        return _last_time[1]
    parsed = _parse_time_text(text)
    _last_time[:] = [text, parsed]
    return parsed


_last_time: list = ["", None]  # the last text parse_time read, and its value


def _parse_time_text(text: str) -> int | None:
    if _EPOCH.match(text):
        return _epoch_ns(float(text), text)
    match = _RFC3339.match(text)
    if match:
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        offset = 0 if zone in (None, "Z", "z") else _zone_seconds(zone)
        return _to_ns((year, month, day, hour, minute, second), offset, fraction or "")
    match = _NGINX.match(text)
    if match and match.group(2).title() in _MONTHS:
        day, mon, year, hour, minute, second, sign, zh, zm = match.groups()
        offset = (1 if sign == "+" else -1) * (int(zh) * 3600 + int(zm) * 60)
        return _to_ns((year, _MONTHS[mon.title()], day, hour, minute, second), offset, "")
    return None


def rfc3339_ns(ns: int) -> str:
    """RFC 3339 UTC with microseconds, as exporters.formatter writes it."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}Z"


def _epoch_ns(number: float, text: str) -> int | None:
    """Seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude."""
    if number <= 0:
        return None
    if "." not in text and "e" not in text.lower():
        whole = int(text)
        for limit, scale in ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3)):
            if whole < limit:
                return whole * scale
        return whole
    for limit, scale in ((1e11, 1e9), (1e14, 1e6), (1e17, 1e3)):
        if number < limit:
            return int(number * scale)
    return int(number)


def _zone_seconds(zone: str) -> int:
    digits = zone[1:].replace(":", "")
    return (1 if zone[0] == "+" else -1) * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)


def _to_ns(parts: tuple[object, ...], offset_seconds: int, fraction: str) -> int | None:
    try:
        year, month, day, hour, minute, second = (int(p) for p in parts)  # type: ignore[call-overload]
        if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second <= 60):
            return None
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset_seconds
    except (ValueError, OverflowError):
        return None
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0")[:9] or 0)


def _http_message(fields: dict[str, str]) -> str:
    if "method" in fields and "path" in fields:
        return " ".join(fields[k] for k in ("method", "path", "status") if k in fields)
    return ""


def _typed(name: str, value: str) -> object:
    if name in INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value
    if name == schema.DB_QUERY:
        return schema.fingerprint_sql(value)
    return value


__all__ = [
    "FIELD_NAMES", "FORMATS", "LEVELS", "Parsed", "Parser", "make_parser", "normalize_level", "parse_json",
    "parse_logfmt", "parse_time", "rfc3339_ns", "to_record",
]
