"""Blocking HTTP/1.1 to one AWS endpoint, over the standard library's `http.client`.

Why not httpx here: the AWS client (`aws.api`) is blocking and talks to one endpoint per
service, so it needs none of what httpx adds over `http.client` (async, HTTP/2, proxies,
redirects, cookies), and a cold container answering a deferred slash command paid about
60 ms importing httpx and httpcore (with anyio, h11, idna) before it could invoke itself.
`http.client` is already in memory by then (the standard library's `urllib.request` and
`email` bring it), so the first invoke costs a socket and the request.

What is kept from the httpx client this replaces:

* TLS is verified with the project's one context (`tls.client_context`: certifi, or
  `SSL_CERT_FILE` / `SSL_CERT_DIR`), hostname checked; built only for an https endpoint.
* Two timeouts: `connect_timeout` for the TCP connection and the TLS handshake,
  `read_timeout` for every send and receive after it.
* Keep-alive: finished connections wait in a small pool for the next request. One that
  the server closed while it waited (its socket readable: EOF) is dropped, not reused,
  as httpcore does.
* No redirects (a signed request must not be replayed elsewhere), no compression
  (DynamoDB's CRC32 is over the bytes as sent: `Accept-Encoding: identity`).
* Failures arrive as `TransportError` whose `kind` is the name httpx gave the same failure
  (`ConnectError`, `ConnectTimeout`, `WriteError`, `WriteTimeout`, `ReadError`,
  `ReadTimeout`, `RemoteProtocolError`): what the callers log and show, unchanged.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from orchestrator.aws.sigv4 import host_header

if TYPE_CHECKING:
    import ssl

USER_AGENT = "orchestrator"  # as `orchestrator.http.USER_AGENT`: one name in AWS's logs
MAX_IDLE = 16  # connections kept per endpoint (the store's worker threads, at most)


class TransportError(Exception):
    """No usable answer. `kind` names the failure's kind, httpx's name for it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


class InvalidURL(ValueError):
    """An endpoint that is not an http(s) URL with a host."""


class Answer(NamedTuple):
    """An HTTP answer, read to the end (a `NamedTuple`: cheap to define on a cold path)."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


def _default_context() -> ssl.SSLContext:
    from orchestrator.tls import client_context

    return client_context()


class Endpoint:
    """A base URL (`https://lambda.eu-west-1.amazonaws.com`, moto's `http://127.0.0.1:5000`)
    and a pool of keep-alive connections to it; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        context: Callable[[], ssl.SSLContext] = _default_context,
        max_idle: int = MAX_IDLE,
    ) -> None:
        try:
            parts = urlsplit(base_url)
            port = parts.port
        except ValueError as exc:
            raise InvalidURL(f"{base_url!r}: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidURL(f"{base_url!r}: not an http(s) URL with a host")
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._prefix = parts.path.rstrip("/")
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._context = context
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []
        self._closed = False

    def request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Answer:
        """Send one request (`path` already percent-encoded, under the base URL's own path)
        and read the whole answer; `TransportError` when there is none."""
        connection = self._take() or self._connect()
        sent = {
            "Host": host_header(self.base_url),
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "identity",
            **headers,
        }
        try:
            try:
                connection.request(method, self._prefix + path, body=body, headers=sent)
            except TimeoutError:
                raise TransportError("WriteTimeout") from None
            except (OSError, http.client.HTTPException) as exc:
                raise TransportError("WriteError") from exc
            try:
                response = connection.getresponse()
                content = response.read()
            except TimeoutError:
                raise TransportError("ReadTimeout") from None
            except (http.client.HTTPException, ConnectionResetError) as exc:
                # A dropped connection or a malformed answer (RemoteDisconnected is both).
                raise TransportError("RemoteProtocolError") from exc
            except OSError as exc:
                raise TransportError("ReadError") from exc
        except TransportError:
            connection.close()
            raise
        names: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            names[key] = f"{names[key]}, {value}" if key in names else value
        self._give_back(connection)
        return Answer(response.status, names, content)

    def close(self) -> None:
        """Close the idle connections; connections in use are closed when they finish."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = True
        for connection in idle:
            connection.close()

    # -- the pool ---------------------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._connect_timeout, context=self._context()
            )
        else:
            connection = http.client.HTTPConnection(
                self._host, self._port, timeout=self._connect_timeout
            )
        try:
            connection.connect()  # TCP, and the TLS handshake, within the connect timeout
        except TimeoutError:
            connection.close()
            raise TransportError("ConnectTimeout") from None
        except OSError as exc:  # refused, unresolvable, unreachable, a certificate refused
            connection.close()
            raise TransportError("ConnectError") from exc
        if connection.sock is not None:
            connection.sock.settimeout(self._read_timeout)
        return connection

    def _take(self) -> http.client.HTTPConnection | None:
        """An idle connection the server has not closed, or None."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                connection = self._idle.pop()
            if _alive(connection):
                return connection
            connection.close()

    def _give_back(self, connection: http.client.HTTPConnection) -> None:
        if connection.sock is None:  # the server said `Connection: close`
            return
        with self._lock:
            if not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(connection)
                return
        connection.close()


def _alive(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle keep-alive connection can carry another request: its socket is open
    and has nothing to read (readable while idle means EOF, the server closed it)."""
    sock = connection.sock
    return sock is not None and not _readable(sock)


def _readable(sock: socket.socket) -> bool:
    """Whether `sock` has something to read now (or is closed, or broken)."""
    if sock.fileno() < 0:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
