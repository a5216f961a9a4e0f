"""Send one encoded batch to Loki over one keep-alive ``http.client`` connection.

http.client, not requests: a 35 KB push costs about a quarter of the CPU, time the sender thread spends
holding the GIL. Connect and read timeouts are separate; TLS follows ``verify``; proxies come from the usual
environment variables (``http_proxy``, ``https_proxy``, ``all_proxy``, ``no_proxy``).
"""

from __future__ import annotations

import base64
import functools
import http.client
import os
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, unquote, urlsplit

from exporters.loki.encode import Encoded

PUSH_PATH = "/loki/api/v1/push"

# How a reused keep-alive connection fails when the server closed it while idle (Loki does after a while).
_STALE = (BrokenPipeError, ConnectionResetError)  # http.client.RemoteDisconnected is a ConnectionResetError


@functools.cache
def user_agent() -> str:
    """``tracklog/<version>``; read when the first transport is made (importlib.metadata costs ~5 ms at import)."""
    import importlib.metadata

    try:
        return f"tracklog/{importlib.metadata.version('tracklog')}"
    except importlib.metadata.PackageNotFoundError:
        return "tracklog/dev"


@dataclass(frozen=True)
class Response:
    status: int
    text: str
    retry_after: str | None = None


class TransportError(Exception):
    """The request did not get an HTTP answer (refused, reset, timed out); worth retrying."""


class _Stale(Exception):
    """A reused connection turned out closed by the server before it answered."""


class Transport(Protocol):
    def send(self, batch: Encoded) -> Response: ...

    def close(self) -> None: ...


def push_url(url: str) -> str:
    """Accept either Loki's base URL or its full push URL (as python-logging-loki users pass it)."""
    url = url.rstrip("/")
    return url if url.endswith(PUSH_PATH) else url + PUSH_PATH


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _without_userinfo(parts: SplitResult) -> SplitResult:
    return parts._replace(netloc=parts.netloc.rpartition("@")[2])


def _userinfo(parts: SplitResult) -> tuple[str, str] | None:
    if "@" not in parts.netloc:
        return None
    return unquote(parts.username or ""), unquote(parts.password or "")


def _port(parts: SplitResult, default: int) -> int:
    try:
        return parts.port or default
    except ValueError as exc:  # raised by send (as TransportError), not by the constructor
        raise http.client.InvalidURL(str(exc)) from None


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:  # as requests did: a CA bundle named in the environment replaces the default one
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    if verify is True:
        return ssl.create_default_context()
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


class HttpTransport:
    """POSTs batches over one persistent connection, opened on the first send; one per sender thread.

    Any failure to get an HTTP answer closes the connection and raises :class:`TransportError` (the
    client backs off and retries), except on a reused connection the server had closed while idle: that
    request goes again at once on a fresh connection. Credentials (``auth``, ``bearer_token``, or
    ``user:password@`` in the URL) never appear in ``repr`` or in error messages; a bearer token wins
    over basic auth, and ``auth`` over credentials in the URL.
    """

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
        try:
            parts = urlsplit(push_url(url))
        except ValueError:  # an unusable URL fails each send, as with requests; the constructor never raises
            parts = urlsplit("invalid:")
        self._parts = _without_userinfo(parts)
        self.url = self._parts.geturl()
        if not self._parts.netloc and "@" in self.url:  # no scheme: "user:password@host" is not understood
            self.url = self.url.rpartition("@")[2]
        auth = auth or _userinfo(parts)
        self._target = self._parts.path + (f"?{self._parts.query}" if self._parts.query else "")
        self.timeout = (connect_timeout, read_timeout)
        self._verify = verify
        self._context: ssl.SSLContext | None = None  # made once: loading the CA certificates is slow
        self._headers: dict[str, str] = {}
        for name, value in {"User-Agent": user_agent(), **(headers or {})}.items():
            self._set(self._headers, name, value)
        if tenant:
            self._set(self._headers, "X-Scope-OrgID", tenant)
        if bearer_token:
            self._set(self._headers, "Authorization", f"Bearer {bearer_token}")
        elif auth:
            self._set(self._headers, "Authorization", _basic(*auth))
        self._conn: http.client.HTTPConnection | None = None
        self._request_target = self._target  # the absolute URL when the connection goes to an HTTP proxy
        self._proxy_headers: dict[str, str] = {}  # Proxy-Authorization on each request to an HTTP proxy
        self._via = ""  # " via proxy ..." in error messages

    @staticmethod
    def _set(headers: dict[str, str], name: str, value: str) -> None:
        """Header names are case-insensitive: a later value replaces an earlier one however it is spelled."""
        for existing in [key for key in headers if key.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value

    def send(self, batch: Encoded) -> Response:
        headers = dict(self._headers)
        self._set(headers, "Content-Type", batch.content_type)
        if batch.content_encoding:
            self._set(headers, "Content-Encoding", batch.content_encoding)
        if self._conn is not None and self._conn.sock is not None:  # sock is None after "Connection: close"
            try:
                return self._post(batch.body, headers, reused=True)
            except _Stale:
                pass  # closed by the server while idle: once more on a fresh connection, no backoff
        return self._post(batch.body, headers, reused=False)

    def _post(self, body: bytes, headers: dict[str, str], *, reused: bool) -> Response:
        doing = "connecting to"
        try:
            if not reused:
                self.close()
                self._conn = self._connect()
            conn = self._conn
            assert conn is not None
            doing = "sending to"
            if self._proxy_headers:
                headers = {**headers, **self._proxy_headers}
            conn.request("POST", self._request_target, body, headers)
            doing = "waiting for"
            answer = conn.getresponse()
            doing = "reading the answer of"
            data = answer.read(2000)  # at most 4 bytes a character: enough for the 500 characters kept
            while answer.read(65536):  # read it all, or the connection cannot be reused
                pass
        except (http.client.HTTPException, OSError) as exc:  # ssl.SSLError and TimeoutError are OSErrors
            self.close()
            if reused and doing != "reading the answer of" and isinstance(exc, _STALE):
                raise _Stale from exc
            raise TransportError(f"{type(exc).__name__}: {exc} ({doing} {self.url}{self._via})") from exc
        return Response(answer.status, data.decode("utf-8", "replace")[:500], answer.getheader("Retry-After"))

    def _connect(self) -> http.client.HTTPConnection:
        """A connection opened within the connect timeout; the read timeout applies from then on."""
        connect_timeout, read_timeout = self.timeout
        if self._parts.scheme not in ("http", "https") or not self._parts.hostname:
            raise http.client.InvalidURL("not an http:// or https:// URL with a host")
        https = self._parts.scheme == "https"
        host, port = self._parts.hostname, _port(self._parts, 443 if https else 80)
        if https and self._context is None:
            self._context = _tls_context(self._verify)
        context = self._context if https else None
        self._request_target, self._proxy_headers, self._via = self._target, {}, ""
        proxy = self._proxy()
        conn: http.client.HTTPConnection
        if proxy is None:
            if context is not None:
                conn = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=context)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        else:
            self._via = f" via proxy {_without_userinfo(proxy).geturl()}"
            if proxy.scheme != "http" or not proxy.hostname:
                raise http.client.HTTPException("only http:// proxies are supported")
            proxy_auth = _userinfo(proxy)
            proxy_headers = {"Proxy-Authorization": _basic(*proxy_auth)} if proxy_auth else {}
            if context is not None:  # a CONNECT tunnel through the proxy, TLS with Loki inside it
                conn = http.client.HTTPSConnection(
                    proxy.hostname, _port(proxy, 80), timeout=connect_timeout, context=context
                )
                conn.set_tunnel(host, port, headers=proxy_headers)
            else:  # plain HTTP: the proxy gets the absolute URL
                conn = http.client.HTTPConnection(proxy.hostname, _port(proxy, 80), timeout=connect_timeout)
                self._request_target, self._proxy_headers = self.url, proxy_headers
        try:
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(read_timeout)
        except BaseException:
            conn.close()
            raise
        return conn

    def _proxy(self) -> SplitResult | None:
        """The proxy for this URL from the environment (as requests and urllib read it), or None."""
        proxies = urllib.request.getproxies_environment()
        proxy = proxies.get(self._parts.scheme) or proxies.get("all")
        if not proxy or urllib.request.proxy_bypass_environment(self._parts.netloc, proxies):
            return None
        try:
            return urlsplit(proxy if "://" in proxy else "http://" + proxy)
        except ValueError:
            raise http.client.InvalidURL("the proxy URL in the environment is not valid") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __repr__(self) -> str:  # never shows credentials
        return f"HttpTransport({self.url!r})"
