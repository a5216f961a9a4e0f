"""TenantRouter: each stream to the Loki tenant its log type names, one LokiClient per tenant."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping

from exporters.loki.client import LokiClient, close_all, flush_all
from exporters.loki.labels import LabelSet
from exporters.schema import LOG_TYPES


def tenant_spool_name(spool_name: str, tenant: str) -> str:
    """The spool name of a tenant's own client: a spool is replayed into the tenant whose client wrote it."""
    return f"{spool_name}-{re.sub(r'[^A-Za-z0-9_.-]', '_', tenant)}"


class TenantRouter:
    """Send each stream to the Loki tenant its ``log_type`` label names: one :class:`LokiClient` per tenant.

    Log types without a tenant of their own, and streams without the label, go to ``default``. A tenant's client
    is made by ``make_client`` the first time one of its streams arrives; flush and close cover all of them.

    Args:
        default: the client of every other stream.
        tenants: log type -> tenant id (X-Scope-OrgID), or a ready :class:`LokiClient` (never closed here).
        make_client: builds the client of a tenant id; needed when ``tenants`` holds tenant ids.
        owns_default: close ``default`` in :meth:`close`.

    Raises:
        ValueError: a key is not a log type, a tenant id is empty, or tenant ids are given without ``make_client``.
    """

    def __init__(
        self,
        default: LokiClient,
        tenants: Mapping[str, str | LokiClient],
        make_client: Callable[[str], LokiClient] | None = None,
        *,
        owns_default: bool = True,
    ) -> None:
        unknown = sorted(set(tenants) - set(LOG_TYPES))
        if unknown:
            raise ValueError(f"tenants: {', '.join(map(repr, unknown))} is not a log type ({', '.join(LOG_TYPES)})")
        empty = sorted(k for k, v in tenants.items() if not isinstance(v, LokiClient) and not v)
        if empty:
            raise ValueError(f"tenants: the tenant of {', '.join(empty)} is empty")
        if make_client is None and any(isinstance(v, str) for v in tenants.values()):
            raise ValueError("tenants: tenant ids need a way to make their clients (give LokiClient values instead)")
        self.default = default
        self.tenants = dict(tenants)
        self.owns_default = owns_default
        self._make = make_client
        self._made: dict[str, LokiClient] = {}  # tenant id -> the client made for it
        self._routes: dict[LabelSet, LokiClient] = {}
        self._lock = threading.Lock()

    def push(self, labels: LabelSet, timestamp_ns: int, line: str, metadata: tuple[tuple[str, str], ...] = ()) -> bool:
        """:meth:`LokiClient.push` on the client of the stream's tenant."""
        client = self._routes.get(labels)
        if client is None:
            client = self.client_for(next((v for k, v in labels if k == "log_type"), None))
            if len(self._routes) < 4096:
                self._routes[labels] = client
        return client.push(labels, timestamp_ns, line, metadata)

    def client_for(self, log_type: str | None) -> LokiClient:
        """The client of ``log_type``'s tenant, made now if this is its first record."""
        target = self.tenants.get(log_type) if log_type is not None else None
        if target is None or isinstance(target, LokiClient):
            return target or self.default
        if target == self.default.tenant:
            return self.default
        client = self._made.get(target)
        if client is None:
            with self._lock:
                client = self._made.get(target)
                if client is None:
                    client = self._made[target] = self._make(target)  # type: ignore[misc]
        return client

    @property
    def clients(self) -> list[LokiClient]:
        """Every client records may go to now: the default, those made so far, and those given."""
        found = [self.default, *self._made.values(), *(v for v in self.tenants.values() if isinstance(v, LokiClient))]
        return list({id(c): c for c in found}.values())

    def flush(self, timeout: float | None = None) -> bool:
        return flush_all(self.clients, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Close the default (if owned) and the clients made here, within one ``timeout``."""
        close_all(([self.default] if self.owns_default else []) + list(self._made.values()), timeout)

    def count_drop(self, reason: str, detail: str = "", count: int = 1) -> None:
        self.default.count_drop(reason, detail, count)


__all__ = ["TenantRouter", "tenant_spool_name"]
