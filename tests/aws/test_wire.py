"""The AWS client's HTTP/1.1 over `http.client` (`orchestrator.aws.wire`): keep-alive that
never reuses a connection the server closed, TLS verified with the project's context, and
every failure named as httpx named it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orchestrator import tls
from orchestrator.aws import wire
from tests.support.servers import QuietHTTPServer, free_port


class Counting:
    """An HTTP/1.1 server on 127.0.0.1 that counts the connections it accepted; it closes each
    connection after its answer when `close_after` is set (without saying so, as a server
    whose idle timeout has passed would)."""

    def __init__(self, close_after: bool = False, tls_files: tuple[Path, Path] | None = None):
        self.connections = 0
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                fake.connections += 1
                super().setup()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                fake.paths.append(self.path)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                answer = b'{"echo":' + str(len(body)).encode() + b"}"
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("X-Amz-Crc32", "1")
                self.end_headers()
                self.wfile.write(answer)
                self.wfile.flush()
                if close_after:
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        if tls_files is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls_files)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls_files else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Counting:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def endpoint(url: str, **kwargs: object) -> wire.Endpoint:
    return wire.Endpoint(url, connect_timeout=1.0, read_timeout=2.0, **kwargs)  # type: ignore[arg-type]


def test_connections_are_kept_alive_between_requests() -> None:
    with Counting() as server:
        http = endpoint(server.url)
        first = http.request("POST", "/a", {}, b"12345")
        second = http.request("POST", "/b", {"X-Amz-Target": "T.Op"}, b"")
        http.close()
    assert (first.status, first.body, second.body) == (200, b'{"echo":5}', b'{"echo":0}')
    assert first.headers["x-amz-crc32"] == "1", "header names arrive in lower case"
    assert server.connections == 1
    assert server.paths == ["/a", "/b"]
    sent = server.headers[1]
    assert sent["host"] == server.url.removeprefix("http://")
    assert (sent["accept-encoding"], sent["user-agent"]) == ("identity", "orchestrator")
    assert sent["x-amz-target"] == "T.Op"


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """Without the check, the second request would go out on a closed socket and fail."""
    with Counting(close_after=True) as server:
        http = endpoint(server.url)
        http.request("POST", "/a", {}, b"")
        for _ in range(50):  # until the server's FIN has arrived (it is on loopback)
            idle = http._idle[0].sock if http._idle else None
            if idle is None or wire._readable(idle):
                break
            threading.Event().wait(0.01)
        second = http.request("POST", "/b", {}, b"")
        http.close()
    assert second.status == 200
    assert server.connections == 2


def test_a_base_url_path_prefixes_every_request() -> None:
    with Counting() as server:
        http = endpoint(server.url + "/stage/")
        http.request("POST", "/2015-03-31/functions/f%3Alive/invocations", {}, b"")
        http.close()
    assert server.paths == ["/stage/2015-03-31/functions/f%3Alive/invocations"]


def test_after_close_a_finished_request_does_not_refill_the_pool() -> None:
    with Counting() as server:
        http = endpoint(server.url)
        http.request("POST", "/a", {}, b"")
        http.close()
        assert http._idle == []
        http.request("POST", "/b", {}, b"")  # still works, on a connection of its own
        assert http._idle == []
    assert server.connections == 2


def test_a_refused_connection_is_a_connect_error() -> None:
    http = endpoint(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(wire.TransportError) as raised:
        http.request("POST", "/", {}, b"")
    assert raised.value.kind == "ConnectError"


def test_a_silent_server_is_a_read_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the connection; nobody ever answers
        http = wire.Endpoint(
            f"http://127.0.0.1:{silent.getsockname()[1]}", connect_timeout=1.0, read_timeout=0.2
        )
        with pytest.raises(wire.TransportError) as raised:
            http.request("POST", "/", {}, b"{}")
    assert raised.value.kind == "ReadTimeout"
    assert http._idle == [], "a failed connection is never pooled"


def test_a_server_that_hangs_up_is_a_protocol_error() -> None:
    with socket.socket() as rude:
        rude.bind(("127.0.0.1", 0))
        rude.listen(8)

        def hang_up() -> None:
            connection, _ = rude.accept()
            connection.recv(65536)
            connection.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        http = endpoint(f"http://127.0.0.1:{rude.getsockname()[1]}")
        with pytest.raises(wire.TransportError) as raised:
            http.request("POST", "/", {}, b"{}")
        thread.join(timeout=5)
    assert raised.value.kind == "RemoteProtocolError"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http:///nohost", "http://127.0.0.1:99999"])
def test_an_endpoint_that_is_not_an_http_url_is_refused(url: str) -> None:
    with pytest.raises(wire.InvalidURL):
        endpoint(url)


# -- TLS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its key and its PEM)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aws.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def tls_server(certificate: tuple[Path, Path]) -> Iterator[Counting]:
    with Counting(tls_files=certificate) as server:
        yield server


def test_https_is_verified_with_the_projects_context(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared context (`tls.client_context`) decides: one that does not trust the
    certificate refuses the connection, one that does lets the request through."""
    with tls_server(certificate) as server:
        refused = endpoint(server.url)
        with pytest.raises(wire.TransportError) as raised:
            refused.request("POST", "/", {}, b"")
        assert raised.value.kind == "ConnectError"

        trusting = ssl.create_default_context(cafile=str(certificate[0]))
        monkeypatch.setattr(tls, "_context", trusting)
        answer = endpoint(server.url).request("POST", "/", {}, b"")
    assert answer.status == 200
    assert trusting.verify_mode is ssl.CERT_REQUIRED and trusting.check_hostname


def test_an_http_endpoint_builds_no_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_context() -> ssl.SSLContext:
        raise AssertionError("a plain http endpoint asked for a TLS context")

    with Counting() as server:
        http = endpoint(server.url, context=no_context)
        assert http.request("POST", "/", {}, b"").status == 200
        http.close()
