"""structlog glue: render structlog events in tracklog's schema, through the same formatter and redaction.

Two ways, as structlog itself offers for stdlib integration:

- Through stdlib logging (recommended; LokiHandler and the derived metrics see the records): end structlog's
  chain with :func:`to_stdlib`, which hands the event to ``logging`` with its fields as ``extra``.
- Rendering directly (structlog's own loggers, e.g. printing JSON lines): end the chain with
  :class:`TracklogRenderer`.
"""

from __future__ import annotations

import logging
from typing import Any

from exporters import schema
from exporters.formatter import JsonFormatter

_LEVELS = {"critical": logging.CRITICAL, "exception": logging.ERROR, "error": logging.ERROR,
           "warn": logging.WARNING, "warning": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}


def to_stdlib(logger: Any, method_name: str, event_dict: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Last processor for ``structlog.stdlib.LoggerFactory()`` loggers: the event becomes the message, every other
    key a typed field (the same ones the schema helpers set), so JsonFormatter renders it like any record."""
    event = dict(event_dict)
    message = str(event.pop("event", ""))
    event.pop("level", None)
    event.pop("timestamp", None)
    exc_info = event.pop("exc_info", None)
    return (message,), {"extra": {schema.FIELDS_ATTR: event}, "exc_info": exc_info}


class TracklogRenderer:
    """Final processor rendering a structlog event as one tracklog JSON line (schema, redaction, hash chain)."""

    def __init__(self, service: str | None = None, env: str | None = None, **formatter_options: Any) -> None:
        self.formatter = JsonFormatter(service=service, env=env, **formatter_options)

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
        (message,), kwargs = to_stdlib(logger, method_name, event_dict)
        level = _LEVELS.get(method_name, logging.INFO)
        record = logging.LogRecord(getattr(logger, "name", "structlog"), level, "", 0, message, (), None)
        record.__dict__.update(kwargs["extra"])
        return self.formatter.format(record)
