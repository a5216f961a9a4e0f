"""Send one encoded batch to Loki over HTTP, with connect and read timeouts on every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import requests

from exporters.loki.encode import Encoded

PUSH_PATH = "/loki/api/v1/push"


@dataclass(frozen=True)
class Response:
    status: int
    text: str
    retry_after: str | None = None


class TransportError(Exception):
    """The request did not get an HTTP answer (refused, reset, timed out); worth retrying."""


class Transport(Protocol):
    def send(self, batch: Encoded) -> Response: ...

    def close(self) -> None: ...


def push_url(url: str) -> str:
    """Accept either Loki's base URL or its full push URL (as python-logging-loki users pass it)."""
    url = url.rstrip("/")
    return url if url.endswith(PUSH_PATH) else url + PUSH_PATH


class HttpTransport:
    """HTTP transport built on a requests Session (keep-alive); one per sender thread."""

    def __init__(
        self,
        url: str,
        *,
        tenant: str | None = None,
        auth: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        verify: bool | str = True,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = push_url(url)
        self.timeout = (connect_timeout, read_timeout)
        self._headers = dict(headers or {})
        if tenant:
            self._headers["X-Scope-OrgID"] = tenant
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        self._auth = auth
        self._verify = verify
        self._session: requests.Session | None = None

    def send(self, batch: Encoded) -> Response:
        if self._session is None:
            self._session = requests.Session()
            self._session.headers.update(self._headers)
            self._session.auth = self._auth
            self._session.verify = self._verify
        headers = {"Content-Type": batch.content_type}
        if batch.content_encoding:
            headers["Content-Encoding"] = batch.content_encoding
        try:
            answer = self._session.post(self.url, data=batch.body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            self.close()
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return Response(answer.status_code, answer.text[:500], answer.headers.get("Retry-After"))

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __repr__(self) -> str:  # never shows credentials
        return f"HttpTransport({self.url!r})"
