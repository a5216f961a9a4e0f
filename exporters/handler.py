"""LokiHandler: a logging.Handler whose emit formats and enqueues; the network is the client's sender thread."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from exporters.formatter import JsonFormatter
from exporters.loki.client import LokiClient
from exporters.loki.labels import DEFAULT_LABEL_KEYS, LOKI_3, LabelLimits, LabelSet, fit
from exporters.loki.router import TenantRouter, tenant_spool_name
from exporters.loki.spool import Spool
from exporters.metrics import RecordMetrics
from exporters.redact import Redactor

INTERNAL_LOGGER = "tracklog.internal"


class LokiHandler(logging.Handler):
    """Ship records to Loki as JSON lines with low-cardinality labels.

    Accepts python-logging-loki's arguments (``url``, ``tags``, ``auth``, ``version``), so
    ``logging_loki.LokiHandler(...)`` becomes ``exporters.LokiHandler(...)`` by changing the import.

    Args:
        url: Loki's base or push URL; ignored when ``client`` is given.
        tags: static labels for every stream (python-logging-loki's name); ``extra={"tags": {...}}`` adds per record
            and wins over the others. A ``service`` or ``env`` tag names the service or environment (body and label).
            What Loki cannot take as a label (``label_limits``) goes into the line, under ``tags``.
        auth: ``(user, password)`` for basic auth.
        version: python-logging-loki's; tracklog always uses Loki's v1 push API. Giving it (as python-logging-loki's
            users do) also keeps that handler's ``severity`` and ``logger`` labels, unless ``compat_labels=False``.
        compat_labels: add python-logging-loki's ``severity`` (level name) and ``logger`` labels; default: when
            ``version`` is given.
        label_limits: Loki's label limits (default :data:`~exporters.loki.labels.LOKI_3`, 15 names; Loki 2.2.1
            allows 30).
        client: a shared :class:`LokiClient` (one per process is best); else one is made from the arguments.
        label_keys: event fields that become labels (default service, env, log_type, level).
        metadata_keys: event fields sent as Loki structured metadata too (Loki >= 2.9; e.g. ``trace_id``).
        flush_timeout: bound on ``flush()``/``close()``.
        metrics: a :class:`RecordMetrics` fed from the same event (saves a MetricsHandler building it again).
        tenants: log type -> Loki tenant (X-Scope-OrgID), e.g. ``{"security": "sec", "audit": "sec"}``, or -> a
            :class:`LokiClient`; records go by their ``log_type`` label, other log types to ``client``'s tenant.
            A tenant's client is made on its first record, with this handler's options and its own spool.
        redactor: the formatter's :class:`Redactor` (default: the built-in detectors; ``False`` turns it off).
        client_options: passed to :class:`LokiClient` (``spool_dir``, ``encoding``, ``batch_max_wait``, ...).
    """

    def __init__(
        self,
        url: str | None = None,
        tags: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        version: str | None = None,
        *,
        client: LokiClient | None = None,
        service: str | None = None,
        env: str | None = None,
        level: int = logging.NOTSET,
        label_keys: Iterable[str] = DEFAULT_LABEL_KEYS,
        metadata_keys: Iterable[str] = (),
        flush_timeout: float = 5.0,
        metrics: RecordMetrics | None = None,
        tenants: Mapping[str, str | LokiClient] | None = None,
        redactor: Redactor | bool | None = None,
        compat_labels: bool | None = None,
        label_limits: LabelLimits = LOKI_3,
        **client_options: Any,
    ) -> None:
        super().__init__(level)
        if version == "0":
            warnings.warn("Loki's v0 push API is gone; tracklog uses v1", DeprecationWarning, stacklevel=2)
        self.tags = dict(tags or {})
        service = service or _text(self.tags.get("service"))
        env = env or _text(self.tags.get("env"))
        self.compat_labels = version is not None if compat_labels is None else compat_labels
        self.label_limits = label_limits
        self.label_keys = tuple(label_keys)
        self.metadata_keys = tuple(metadata_keys)
        self.flush_timeout = flush_timeout
        self.metrics = metrics
        self._owns_client = client is None
        if client is None:
            client_options.setdefault("flush_timeout", flush_timeout)
            url = url or os.environ.get("TRACKLOG_LOKI_URL") or "http://127.0.0.1:3100"
            client = LokiClient(url, auth=auth, **client_options)
        self.client = client
        self.router = _router(client, tenants, self._owns_client, url, auth, client_options) if tenants else None
        self.setFormatter(JsonFormatter(service=service, env=env, redactor=redactor))
        self._labels_cache: dict[tuple[Any, ...], tuple[LabelSet, dict[str, str]]] = {}

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        self._json = fmt if isinstance(fmt, JsonFormatter) else None

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        """Filter and emit without ``Handler``'s per-record lock: emit only enqueues, and the queue has its own."""
        if record.name.startswith(INTERNAL_LOGGER):
            return False  # tracklog's own warnings never feed back into Loki through the handler that caused them
        passed = self.filter(record) if self.filters else True
        if passed:
            self.emit(passed if isinstance(passed, logging.LogRecord) else record)  # 3.12 filters may return one
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tags = getattr(record, "tags", None)
            if not isinstance(tags, dict) or not tags:
                tags = None
            if self._json is not None:
                event = self._json.event(record)
                key = tuple(map(event.get, self.label_keys))
                if self.compat_labels:
                    key = (*key, record.levelname, record.name)
                fitted = self._labels_cache.get(key) if tags is None else None
                if fitted is None:
                    fitted = self._labels(key, tags)
                labels, rest = fitted
                if rest:  # what Loki cannot take as a label travels in the line
                    event["tags"] = {**event["tags"], **rest} if isinstance(event.get("tags"), dict) else rest
                line = self._json.render(event)
                metadata = (
                    tuple((k.replace(".", "_"), str(event[k])) for k in self.metadata_keys if k in event)
                    if self.metadata_keys else ()
                )
                if self.metrics is not None:
                    self.metrics.observe(event)
            else:
                line = self.format(record)
                key = (record.levelname, record.name) if self.compat_labels else ()
                labels, _ = self._labels(key, tags, with_event=False)
                metadata = ()
            sink = self.client if self.router is None else self.router
            sink.push(labels, int(record.created * 1e9), line, metadata)
        except Exception as exc:  # counted and logged (rate-limited); the caller's logging call never sees it
            self.client.count_drop("handler_error", f"{type(exc).__name__}: {exc}")

    def _labels(self, key: tuple[Any, ...], tags: dict[str, Any] | None,
                with_event: bool = True) -> tuple[LabelSet, dict[str, str]]:
        """The stream's labels in order of preference (tracklog's own, python-logging-loki's, the handler's tags,
        the record's tags, which win on a shared name), fitted to Loki's limits."""
        values: dict[Any, Any] = dict(zip(self.label_keys, key, strict=False)) if with_event else {}
        if self.compat_labels:
            values["severity"], values["logger"] = str(key[-2]).lower(), key[-1]
        values.update(self.tags)
        if tags:
            values.update(tags)
        fitted = fit(values.items(), self.label_limits)
        if tags is None and len(self._labels_cache) < 1024:
            self._labels_cache[key] = fitted
        return fitted

    def flush(self) -> None:
        (self.router or self.client).flush(self.flush_timeout)

    def close(self) -> None:
        try:
            if self.router is not None:
                self.router.close(self.flush_timeout)
            elif self._owns_client:
                self.client.close(self.flush_timeout)
        finally:
            super().close()


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


# -- tenants: only when ``tenants=`` is given; emit() then pushes through the router instead of the client ----------


def _router(client: LokiClient, tenants: Mapping[str, str | LokiClient], owns_client: bool, url: str | None,
            auth: tuple[str, str] | None, options: dict[str, Any]) -> TenantRouter:
    make: Callable[[str], LokiClient] | None = None
    if owns_client and not {"transport", "transport_factory"} & options.keys():  # an injected transport has no tenant
        def make(tenant: str) -> LokiClient:
            own = {**options, "tenant": tenant}
            if own.get("spool_dir"):
                own["spool_name"] = tenant_spool_name(own.get("spool_name", "tracklog"), tenant)
            return LokiClient(url, auth=auth, **own)

    router = TenantRouter(client, tenants, make, owns_default=owns_client)
    if make is not None and options.get("spool_dir"):
        # A spool an earlier process left for a tenant is replayed once that tenant's client exists: make it now.
        spool_name = options.get("spool_name", "tracklog")
        for log_type, tenant in tenants.items():
            if isinstance(tenant, str) and Spool.holds_segments(options["spool_dir"],
                                                                tenant_spool_name(spool_name, tenant)):
                router.client_for(log_type)
    return router
