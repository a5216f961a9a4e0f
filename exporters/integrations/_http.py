"""What the ASGI and WSGI middleware share: request ids, trace context, and the one log call per request."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field

from exporters import context, schema


@dataclass
class RequestLog:
    """One request's identity and timing; ``finish`` logs it (application log + RED metrics via the handlers)."""

    logger: logging.Logger
    method: str
    path: str
    client_address: str | None
    request_id: str
    trace_id: str
    span_id: str = field(default_factory=context.new_span_id)
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(cls, logger: logging.Logger, method: str, path: str, client_address: str | None,
              request_id: str | None, traceparent: str | None) -> RequestLog:
        parsed = context.parse_traceparent(traceparent)
        trace_id = parsed[0] if parsed else context.new_trace_id()
        return cls(logger, method, path, client_address, request_id or uuid.uuid4().hex, trace_id)

    def fields(self) -> dict[str, str]:
        return {schema.REQUEST_ID: self.request_id, schema.TRACE_ID: self.trace_id, schema.SPAN_ID: self.span_id}

    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"

    def finish(self, route: str | None, status: int) -> None:
        schema.http_request(
            self.logger, route=route or "unmatched", method=self.method, status=status,
            duration_s=time.perf_counter() - self.started, path=self.path, client_address=self.client_address,
            request_id=self.request_id, **{schema.TRACE_ID: self.trace_id, schema.SPAN_ID: self.span_id},
        )
