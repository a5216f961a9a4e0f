"""HttpTransport against small fake servers on 127.0.0.1: what arrives, keep-alive, failures, proxies, TLS."""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import http
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from exporters.loki.encode import Encoded
from exporters.loki.transport import PUSH_PATH, HttpTransport, TransportError

pytestmark = pytest.mark.timeout(30)

BATCH = Encoded(gzip.compress(b'{"streams": []}'), "application/json", "gzip")
ENVIRONMENT = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass
class Request:
    line: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None


def read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(name.strip(), value.strip()) for name, _, value in (h.partition(":") for h in lines)]
    request = Request(line, headers, b"")
    length = int(request.header("Content-Length") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    request.body = body
    return request


def respond(sock: socket.socket, status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> None:
    head = f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    sock.sendall(head.encode("latin-1") + b"\r\n" + body)


Answer = tuple[int, bytes, tuple[tuple[str, str], ...]]


@dataclass
class Server:
    """Accepts connections and runs ``serve(server, socket, connection number)`` for each in a thread."""

    serve: Callable[[Server, socket.socket, int], None]
    tls: ssl.SSLContext | None = None
    answers: list[Answer] = field(default_factory=list)  # then 204
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    closed_one: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(10)
            self.connections += 1
            self.sockets.append(sock)
            threading.Thread(target=self._run, args=(sock, self.connections), daemon=True).start()

    def _run(self, sock: socket.socket, number: int) -> None:
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
                self.sockets.append(sock)
            self.serve(self, sock, number)
        except OSError:
            pass
        finally:
            sock.close()
            self.closed_one.set()

    def answer(self, sock: socket.socket) -> bool:
        """Read one request and answer it from ``answers``; False when the client closed the connection."""
        request = read_request(sock)
        if request is None:
            return False
        self.requests.append(request)
        respond(sock, *(self.answers.pop(0) if self.answers else (204, b"", ())))
        return True

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def keep_alive(server: Server, sock: socket.socket, number: int) -> None:
    while server.answer(sock):
        pass


def one_request_then_close(server: Server, sock: socket.socket, number: int) -> None:
    """Like a server whose idle timeout expired right after it answered (no "Connection: close")."""
    server.answer(sock)


def close_at_once(server: Server, sock: socket.socket, number: int) -> None:
    pass


def first_answers_then_close_at_once(server: Server, sock: socket.socket, number: int) -> None:
    if number == 1:
        server.answer(sock)


def never_answer(server: Server, sock: socket.socket, number: int) -> None:
    read_request(sock)
    server.stop.wait()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def start() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(serve: Callable[[Server, socket.socket, int], None] = keep_alive, **kw: object) -> Server:
        servers.append(Server(serve, **kw))  # type: ignore[arg-type]
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def transports() -> Iterator[Callable[..., HttpTransport]]:
    made: list[HttpTransport] = []

    def make(url: str, **kw: object) -> HttpTransport:
        kw.setdefault("read_timeout", 5.0)
        made.append(HttpTransport(url, **kw))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for transport in made:
        transport.close()


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def test_the_body_and_headers_arrive_exactly(start, transports):
    server = start()
    transport = transports(server.url, tenant="team-a", auth=("alice", "pa:ss"), headers={"X-Extra": "1"})
    assert transport.send(BATCH).status == 204
    request = server.requests[0]
    assert request.line == f"POST {PUSH_PATH} HTTP/1.1"
    assert request.body == BATCH.body
    assert request.header("Content-Type") == "application/json"
    assert request.header("Content-Encoding") == "gzip"
    assert request.header("Content-Length") == str(len(BATCH.body))
    assert request.header("X-Scope-OrgID") == "team-a"
    assert request.header("Authorization") == "Basic " + base64.b64encode(b"alice:pa:ss").decode()
    assert request.header("X-Extra") == "1"
    assert request.header("User-Agent").startswith("tracklog/")
    assert request.header("Host") == f"127.0.0.1:{server.port}"


def test_no_content_encoding_header_without_one_and_no_tenant_header_without_a_tenant(start, transports):
    server = start()
    transports(server.url + PUSH_PATH).send(Encoded(b"\x00proto", "application/x-protobuf", None))
    request = server.requests[0]
    assert request.line == f"POST {PUSH_PATH} HTTP/1.1"  # a push URL is taken as it is
    assert request.body == b"\x00proto"
    assert request.header("Content-Type") == "application/x-protobuf"
    assert request.header("Content-Encoding") is None
    assert request.header("X-Scope-OrgID") is None
    assert request.header("Authorization") is None


def test_a_bearer_token_wins_over_basic_auth(start, transports):
    server = start()
    transports(server.url, auth=("alice", "secret"), bearer_token="tok3n").send(BATCH)
    assert server.requests[0].header("Authorization") == "Bearer tok3n"


def test_extra_headers_replace_defaults_whatever_their_case(start, transports):
    server = start()
    transports(server.url, headers={"user-agent": "mine/1"}).send(BATCH)
    assert server.requests[0].header("User-Agent") == "mine/1"


def test_one_connection_serves_every_send(start, transports):
    server = start()
    transport = transports(server.url)
    server.answers = [(400, b"x" * 100_000, ())]  # a long body is read through, so the connection stays usable
    assert [transport.send(BATCH).status for _ in range(5)] == [400, 204, 204, 204, 204]
    assert len(server.requests) == 5
    assert server.connections == 1


def test_no_connection_before_the_first_send(start, transports):
    server = start()
    transports(server.url)
    assert server.connections == 0


def test_a_connection_the_server_closed_while_idle_costs_no_error(start, transports):
    server = start(one_request_then_close)
    transport = transports(server.url)
    for _ in range(3):
        server.closed_one.clear()
        assert transport.send(BATCH).status == 204
        assert server.closed_one.wait(5)
    assert len(server.requests) == 3
    assert server.connections == 3


def test_an_answer_with_connection_close_opens_a_fresh_connection_next_time(start, transports):
    server = start()
    server.answers = [(204, b"", (("Connection", "close"),))]
    transport = transports(server.url)
    assert transport.send(BATCH).status == 204
    assert transport.send(BATCH).status == 204
    assert server.connections == 2


def test_a_fresh_connection_that_fails_is_not_retried(start, transports):
    server = start(close_at_once)
    with pytest.raises(TransportError) as caught:
        transports(server.url).send(BATCH)
    assert server.url in str(caught.value)
    assert server.connections == 1


def test_a_stale_connection_is_retried_once_only(start, transports):
    server = start(first_answers_then_close_at_once)
    transport = transports(server.url)
    assert transport.send(BATCH).status == 204
    assert server.closed_one.wait(5)
    with pytest.raises(TransportError):
        transport.send(BATCH)
    assert server.connections == 2


def test_connection_refused_names_the_url(transports):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TransportError) as caught:
        transports(url).send(BATCH)
    assert "ConnectionRefusedError" in str(caught.value)
    assert url + PUSH_PATH in str(caught.value)


def test_the_next_send_after_a_failure_opens_a_new_connection(start, transports):
    def first_fails(server: Server, sock: socket.socket, number: int) -> None:
        if number > 1:
            keep_alive(server, sock, number)

    server = start(first_fails)
    transport = transports(server.url)
    with pytest.raises(TransportError):
        transport.send(BATCH)
    assert [transport.send(BATCH).status for _ in range(2)] == [204, 204]
    assert server.connections == 2


def test_a_server_that_never_answers_raises_after_the_read_timeout(start, transports):
    server = start(never_answer)
    with pytest.raises(TransportError) as caught:
        transports(server.url, read_timeout=0.3).send(BATCH)
    assert "TimeoutError" in str(caught.value)
    assert server.url in str(caught.value)


def test_429_returns_the_status_and_retry_after(start, transports):
    server = start()
    server.answers = [(429, b"slow down", (("Retry-After", "7"),))]
    answer = transports(server.url).send(BATCH)
    assert (answer.status, answer.text, answer.retry_after) == (429, "slow down", "7")


def test_an_error_body_comes_back_as_text_cut_at_500_characters(start, transports):
    server = start()
    body = "é" * 300 + "x" * 2000
    server.answers = [(400, body.encode(), ()), (400, b"bad \xff byte", ())]
    transport = transports(server.url)
    answer = transport.send(BATCH)
    assert (answer.status, answer.text, answer.retry_after) == (400, body[:500], None)
    assert transport.send(BATCH).text == "bad \ufffd byte"


def test_credentials_in_the_url_are_used_and_never_shown(start, transports):
    server = start()
    transport = transports(f"http://alice:s%40cret@127.0.0.1:{server.port}")
    transport.send(BATCH)
    assert server.requests[0].header("Authorization") == "Basic " + base64.b64encode(b"alice:s@cret").decode()
    assert "cret" not in repr(transport)
    assert "alice" not in repr(transport)
    assert repr(transport) == f"HttpTransport('http://127.0.0.1:{server.port}{PUSH_PATH}')"

    refused = transports(f"http://alice:s%40cret@127.0.0.1:{free_port()}", bearer_token="tok3n")
    with pytest.raises(TransportError) as caught:
        refused.send(BATCH)
    for secret in ("alice", "cret", "tok3n"):
        assert secret not in str(caught.value)
        assert secret not in repr(refused)


def test_explicit_auth_wins_over_credentials_in_the_url(start, transports):
    server = start()
    transports(f"http://alice:secret@127.0.0.1:{server.port}", auth=("bob", "pw")).send(BATCH)
    assert server.requests[0].header("Authorization") == "Basic " + base64.b64encode(b"bob:pw").decode()


def test_a_malformed_url_fails_each_send_not_the_constructor(transports):
    for url in ("127.0.0.1:3100", "http://127.0.0.1:port", "http://[::1"):
        with pytest.raises(TransportError):
            transports(url).send(BATCH)


def test_an_http_proxy_from_the_environment_gets_the_absolute_url(start, transports, monkeypatch):
    proxy = start()
    monkeypatch.setenv("http_proxy", f"http://carol:pr0xy@127.0.0.1:{proxy.port}")
    transport = transports("http://loki.invalid:3100", tenant="t")
    assert [transport.send(BATCH).status for _ in range(2)] == [204, 204]
    request = proxy.requests[0]
    assert request.line == f"POST http://loki.invalid:3100{PUSH_PATH} HTTP/1.1"
    assert request.header("Host") == "loki.invalid:3100"
    assert request.header("Proxy-Authorization") == "Basic " + base64.b64encode(b"carol:pr0xy").decode()
    assert request.header("X-Scope-OrgID") == "t"
    assert request.body == BATCH.body
    assert proxy.connections == 1


def test_a_proxy_error_names_the_proxy_without_its_credentials(transports, monkeypatch):
    monkeypatch.setenv("http_proxy", f"http://carol:pr0xy@127.0.0.1:{free_port()}")
    with pytest.raises(TransportError) as caught:
        transports("http://loki.invalid:3100").send(BATCH)
    assert "via proxy http://127.0.0.1:" in str(caught.value)
    assert "pr0xy" not in str(caught.value)


def test_no_proxy_sends_directly(start, transports, monkeypatch):
    server = start()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    assert transports(server.url).send(BATCH).status == 204
    assert server.requests[0].line == f"POST {PUSH_PATH} HTTP/1.1"


# TLS: a throwaway CA and server certificate made with cryptography (already a tracklog dependency).


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tracklog test CA")])
    usage = {name: False for name in ("digital_signature", "content_commitment", "key_encipherment",
                                      "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                                      "encipher_only", "decipher_only")}

    def builder(subject: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))

    ca = (builder(ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(**{**usage, "key_cert_sign": True, "crl_sign": True}), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(**{**usage, "digital_signature": True}), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory = tmp_path_factory.mktemp("tls")
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "server.pem")
    return directory / "ca.pem", context


def test_tls_verify_true_refuses_an_untrusted_server(start, transports, certificates):
    server = start(tls=certificates[1])
    with pytest.raises(TransportError) as caught:
        transports(server.url).send(BATCH)
    assert "SSLCertVerificationError" in str(caught.value)
    assert server.url in str(caught.value)


def test_tls_verify_with_a_ca_bundle_path(start, transports, certificates):
    server = start(tls=certificates[1])
    transport = transports(server.url, verify=str(certificates[0]))
    assert [transport.send(BATCH).status for _ in range(2)] == [204, 204]
    assert server.connections == 1
    assert server.requests[0].body == BATCH.body


def test_tls_verify_false_accepts_any_certificate(start, transports, certificates):
    server = start(tls=certificates[1])
    assert transports(server.url, verify=False).send(BATCH).status == 204


def test_tls_the_ca_bundle_from_the_environment_as_requests_read_it(start, transports, certificates, monkeypatch):
    server = start(tls=certificates[1])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates[0]))
    assert transports(server.url).send(BATCH).status == 204


def tunnel(server: Server, sock: socket.socket, number: int) -> None:
    """A CONNECT proxy: records the CONNECT request, then relays bytes both ways."""
    request = read_request(sock)
    if request is None:
        return
    server.requests.append(request)
    host, _, port = request.line.split()[1].rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as upstream:
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                sink.close()

        threading.Thread(target=pump, args=(upstream, sock), daemon=True).start()
        pump(sock, upstream)


def test_https_through_a_proxy_tunnels_with_connect(start, transports, certificates, monkeypatch):
    server = start(tls=certificates[1])
    proxy = start(tunnel)
    monkeypatch.setenv("https_proxy", f"http://carol:pr0xy@127.0.0.1:{proxy.port}")
    transport = transports(server.url, verify=str(certificates[0]))
    assert [transport.send(BATCH).status for _ in range(2)] == [204, 204]
    connect = proxy.requests[0]
    assert connect.line.startswith(f"CONNECT 127.0.0.1:{server.port} HTTP/1.")  # 1.0 from Python 3.11
    assert connect.header("Proxy-Authorization") == "Basic " + base64.b64encode(b"carol:pr0xy").decode()
    assert server.requests[0].line == f"POST {PUSH_PATH} HTTP/1.1"
    assert server.requests[0].header("Proxy-Authorization") is None  # the proxy's credentials stay with it
    assert (proxy.connections, server.connections) == (1, 1)
