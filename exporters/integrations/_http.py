"""What the ASGI and WSGI middleware share: request ids, trace context, and the one log call per request."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
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
    clock: Callable[[], float] = time.perf_counter
    span_id: str = field(default_factory=context.new_span_id)
    started: float = 0.0

    @classmethod
    def start(cls, logger: logging.Logger, method: str, path: str, client_address: str | None,
              request_id: str | None, traceparent: str | None,
              clock: Callable[[], float] = time.perf_counter) -> RequestLog:
        parsed = context.parse_traceparent(traceparent)
        trace_id = parsed[0] if parsed else context.new_trace_id()
        request = cls(logger, method, path, client_address, request_id or uuid.uuid4().hex, trace_id, clock)
        request.started = clock()
        return request

    def fields(self) -> dict[str, str]:
        return {schema.REQUEST_ID: self.request_id, schema.TRACE_ID: self.trace_id, schema.SPAN_ID: self.span_id}

    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"

    def finish(self, route: str | None, status: int) -> None:
        schema.http_request(
            self.logger, route=route or "unmatched", method=self.method, status=status,
            duration_s=self.clock() - self.started, path=self.path, client_address=self.client_address,
            request_id=self.request_id, **{schema.TRACE_ID: self.trace_id, schema.SPAN_ID: self.span_id},
        )
