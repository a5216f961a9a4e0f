"""FaroCollector: an ASGI app taking what Grafana Faro's Web SDK sends and logging it as tracklog records.

The SDK's fetch transport (``@grafana/faro-web-sdk``, ``src/transports/fetch/transport.ts``) POSTs JSON to the URL
it was given, with ``x-api-key`` (the app key), ``x-faro-session-id``, an ``Idempotency-Key`` per batch (the same
one on a retry) and, with ``requestCompression``, ``Content-Encoding: gzip``. It counts any 2xx as delivered and
retries 408, 425, 429 (after ``Retry-After``), 500, 502, 503 and 504. Those headers are not CORS-safelisted, so a page
on another origin sends a preflight first.

Records go through a stdlib logger, so whatever handler the process has (``exporters.configure``'s LokiHandler)
formats, redacts, labels, spools and derives metrics from them exactly as it does for the backend's own records.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from exporters import schema
from exporters.integrations.faro import mapping
from exporters.integrations.faro.guard import BadEncoding, RateLimiter, RecentKeys, TooLarge, decode_body
from exporters.integrations.faro.metrics import FaroMetrics, default_faro_metrics

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ALLOWED_HEADERS = ("content-type", "content-encoding", "x-api-key", "x-faro-session-id", "idempotency-key")
internal_log = logging.getLogger("tracklog.internal.faro")


@dataclass(frozen=True)
class CollectorSettings:
    """How the collector decides what to take.

    Args:
        app_keys: app key (the SDK's ``apiKey``, sent as ``x-api-key``) -> the service its records are logged as.
        allowed_origins: page origins (``https://tracking.example.com``) allowed to send; ``"*"`` allows any.
            Requests without an ``Origin`` header (not from a browser page) are taken when their key is valid.
        path: where the SDK's ``url`` points (``https://collector.example.com/collect``).
        max_body_bytes: a larger body (before or after gunzipping) is refused with 413.
        rate, burst: payloads per second per session (``x-faro-session-id``, else the client address), and the
            burst allowed; more is refused with 429 and ``Retry-After``, which the SDK honours.
        max_sessions: session rate buckets held at once (least recently used forgotten first).
        address_rate, address_burst: the same per client address, above the sessions behind it (an office behind
            one NAT address), so a client cannot escape the session limit by sending a new session id each time.
        proxy_hops: how many proxies in front of the collector append to ``X-Forwarded-For`` (as werkzeug's
            ProxyFix ``x_for``): the client address is the one that many entries from the right. 0 (the default)
            ignores the header, which anyone can send.
    """

    app_keys: Mapping[str, str]
    allowed_origins: tuple[str, ...] = ()
    path: str = "/collect"
    max_body_bytes: int = 512 * 1024
    rate: float = 5.0
    burst: int = 20
    max_sessions: int = 10_000
    address_rate: float = 50.0
    address_burst: int = 200
    proxy_hops: int = 0
    extra_allowed_headers: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.app_keys:
            raise ValueError("CollectorSettings: app_keys is empty; every request would be refused")
        for key, service in self.app_keys.items():
            if not key or not service:
                raise ValueError("CollectorSettings: an app key and its service must both be non-empty")


class FaroCollector:
    """Mount it (``app.mount("/collect", FaroCollector(settings))`` in FastAPI/Starlette) or run it alone
    (``tracklog collect``). ``GET .../healthz`` answers 200.

    Args:
        settings: see :class:`CollectorSettings`.
        logger: where records are logged (default ``tracklog.faro``; its handlers, or the root's, ship them).
        metrics: a :class:`FaroMetrics` (default: the process's own); ``False`` for none.
    """

    def __init__(self, settings: CollectorSettings, logger: logging.Logger | None = None,
                 metrics: FaroMetrics | bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.logger = logger or logging.getLogger("tracklog.faro")
        self.metrics = default_faro_metrics() if metrics is None or metrics is True else (metrics or None)
        self.limiter = RateLimiter(settings.rate, settings.burst, settings.max_sessions, clock)
        self.address_limiter = RateLimiter(settings.address_rate, settings.address_burst, settings.max_sessions, clock)
        self.recent = RecentKeys()
        self._origins = frozenset(o.rstrip("/").lower() for o in settings.allowed_origins)
        headers = (*ALLOWED_HEADERS, *(h.lower() for h in settings.extra_allowed_headers))
        self._allow_headers = ", ".join(dict.fromkeys(headers)).encode()
        self._path = "/" + settings.path.strip("/")
        self.counts: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            return
        path = _relative_path(scope)
        headers = _headers(scope)
        origin = headers.get("origin")
        method = scope.get("method", "GET")
        if path.endswith("/healthz") and method == "GET":
            await _answer(send, 200, b"ok")
            return
        here = path.rstrip("/")
        if here != self._path and not (here == "" and scope.get("root_path")):  # mounted at the path itself
            await _answer(send, 404, b"not found")
            return
        if origin is not None and not self._origin_allowed(origin):
            await self._refuse(send, "forbidden_origin", 403, f"origin {origin} is not allowed", None)
            return
        cors = self._cors(origin)
        if method == "OPTIONS":
            await _answer(send, 204, b"", [*cors, (b"access-control-allow-methods", b"POST, OPTIONS"),
                                           (b"access-control-allow-headers", self._allow_headers),
                                           (b"access-control-max-age", b"600")])
            return
        if method != "POST":
            await _answer(send, 405, b"POST only", [*cors, (b"allow", b"POST, OPTIONS")])
            return
        service = self.settings.app_keys.get(headers.get("x-api-key", ""))
        if service is None:
            await self._refuse(send, "unauthorized", 401, "missing or unknown x-api-key", cors)
            return
        address = self._client_address(scope, headers)
        session = headers.get("x-faro-session-id") or f"addr:{address}"
        wait = self.limiter.take(session) or (self.address_limiter.take(address) if address else 0.0)
        if wait > 0:
            await self._refuse(send, "rate_limited", 429, "too many payloads for this session", cors,
                               [(b"retry-after", str(max(1, math.ceil(wait))).encode())])
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            await self._refuse(send, "too_large", 413, f"body over {self.settings.max_body_bytes} bytes", cors)
            return
        body = await _read(receive, self.settings.max_body_bytes)
        if body is None:
            await self._refuse(send, "too_large", 413, f"body over {self.settings.max_body_bytes} bytes", cors)
            return
        idempotency = headers.get("idempotency-key")
        if idempotency and self.recent.seen(f"{service}:{idempotency}"):
            self._count("duplicate")
            await _answer(send, 202, b"ok", cors)
            return
        try:
            payload = json.loads(decode_body(body, headers.get("content-encoding"), self.settings.max_body_bytes))
            if not isinstance(payload, dict):
                raise ValueError("the body is not a JSON object")
        except TooLarge as exc:
            self._forget(service, idempotency)
            await self._refuse(send, "too_large", 413, str(exc), cors)
            return
        except (BadEncoding, ValueError) as exc:  # json's errors are ValueErrors; UnicodeDecodeError too
            self._forget(service, idempotency)
            await self._refuse(send, "bad_request", 400, f"not a Faro payload: {exc}", cors)
            return
        self.log_payload(payload, service, address)
        self._count("accepted")
        await _answer(send, 202, b"ok", cors)

    def log_payload(self, payload: Mapping[str, Any], service: str, client_address: str | None = None) -> int:
        """Log every record of one Faro payload as ``service``; the number logged."""
        logged = 0
        for record in mapping.records(payload, service):
            if client_address is not None:
                record.fields.setdefault(schema.CLIENT_ADDRESS, client_address)
            if self.metrics is not None:
                self.metrics.observe(record.fields)
            if self.logger.isEnabledFor(record.level):
                entry = self.logger.makeRecord(self.logger.name, record.level, "(browser)", 0, record.message, (),
                                               None, "(browser)")
                setattr(entry, schema.FIELDS_ATTR, record.fields)
                self.logger.handle(entry)
                logged += 1
        return logged

    def _client_address(self, scope: Scope, headers: dict[str, str]) -> str | None:
        client = scope.get("client")
        peer = str(client[0]) if client else None
        if self.settings.proxy_hops <= 0:
            return peer
        hops = [part.strip() for part in headers.get("x-forwarded-for", "").split(",") if part.strip()]
        return hops[-self.settings.proxy_hops] if len(hops) >= self.settings.proxy_hops else peer

    def _origin_allowed(self, origin: str) -> bool:
        return "*" in self._origins or origin.rstrip("/").lower() in self._origins

    def _cors(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        if origin is None:
            return []
        return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
                (b"access-control-expose-headers", b"Retry-After")]

    async def _refuse(self, send: Send, reason: str, status: int, text: str,
                      cors: Iterable[tuple[bytes, bytes]] | None, extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._count(reason)
        await _answer(send, status, f"faro collector: {text}".encode(), [*(cors or ()), *extra])

    def _forget(self, service: str, idempotency: str | None) -> None:
        if idempotency:
            self.recent.forget(f"{service}:{idempotency}")

    def _count(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if self.metrics is not None:
            self.metrics.outcome(outcome)


def _relative_path(scope: Scope) -> str:
    path, root = scope.get("path", "/"), scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes ``limit`` bytes (the rest is not read)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
