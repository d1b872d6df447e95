"""A thin AWS client: sign with `aws.sigv4`, send with `aws.wire` (the standard library's
`http.client`), turn error answers into one exception. What the request path needs from
AWS and nothing else.

Why not boto3 there: a cold container that answers a deferred slash command must write the
job (DynamoDB) and invoke itself (Lambda) before its first answer, and boto3's import and
client build were most of that answer's time. Both APIs are plain HTTP: DynamoDB's JSON
protocol (`POST /`, `X-Amz-Target: DynamoDB_20120810.<Operation>`, the low-level client's
parameters as the JSON body) and Lambda's REST one. Table administration (create, wait,
TTL: development and deploy tools, never a request) still uses boto3
(`orchestrator.aws.clients`).

No retries here: the store retries within its own time budget, the job dispatcher once.
What callers see is one of three exceptions: `AWSError` (AWS answered no; `code` is the
error's name, `ConditionalCheckFailedException`, `ResourceNotFoundException`, `body` its
JSON), `Unreachable` (no answer: connection refused, timeout, broken response) and
`credentials.NotConfigured` (no credentials or region to sign with).

No HTTP library beyond the standard library's: `aws.wire` says why (httpx's import was
most of what was left of a cold deferred command's first invoke).
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from orchestrator.aws import credentials as aws_credentials
from orchestrator.aws import wire
from orchestrator.aws.credentials import NotConfigured
from orchestrator.aws.sigv4 import Credentials, sign

__all__ = ["AWSError", "Client", "NotConfigured", "Response", "Unreachable", "parse_error"]

JSON_1_0 = "application/x-amz-json-1.0"


class AWSError(Exception):
    """AWS answered with an error. `code` is the bare error name (no namespace), or empty
    when the answer named none; `reason` is what is safe to log or show: the name or the
    HTTP status, never the message (it may quote request data)."""

    def __init__(
        self, operation: str, status: int, code: str, message: str, body: Mapping[str, Any]
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.body = body
        super().__init__(f"{operation}: {self.reason}")

    @property
    def reason(self) -> str:
        return self.code or f"HTTP {self.status}"


class Unreachable(Exception):
    """No usable answer: the connection failed or timed out, or the response was broken.
    `reason` names the failure's kind (`ConnectError`, `ReadTimeout`, ...)."""

    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(f"{operation}: {reason}")


class Response(NamedTuple):
    """What AWS answered. A `NamedTuple`, not a frozen dataclass: its class is built in about
    a tenth of the time, and a cold deferred command builds it before its answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """The JSON object answered; `{}` for an empty body."""
        if not self.body:
            return {}
        value = json.loads(self.body)
        return value if isinstance(value, dict) else {}


def parse_error(
    status: int, headers: Mapping[str, str], body: bytes
) -> tuple[str, str, dict[str, Any]]:
    """(code, message, JSON body) of an error answer, from either protocol's spelling.

    The code comes from the `x-amzn-ErrorType` header (REST APIs, Lambda's:
    `ResourceNotFoundException:http://internal.amazon.com/...`) or the body's `__type`
    (JSON APIs, DynamoDB's: `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`),
    or `code`, whichever is there, reduced to the bare name."""
    try:
        data = json.loads(body) if body else {}
    except ValueError:  # an HTML error page from a proxy, say
        data = {}
    if not isinstance(data, dict):
        data = {}
    lowered = {name.lower(): value for name, value in headers.items()}
    raw = lowered.get("x-amzn-errortype") or data.get("__type") or data.get("code") or ""
    if not raw and status >= 400:
        raw = data.get("Code") or ""
    code = str(raw).partition(":")[0].rpartition("#")[2].strip()
    message = data.get("message") or data.get("Message") or ""
    return code, str(message), data


class Client:
    """One AWS service's endpoint in one region, with a connection pool of its own.

    `region` and `endpoint_url` default to the environment (`aws.credentials`), resolved on
    the first request so a client can be built where none is configured yet; credentials are
    asked for on every request (`credentials`, a seam for tests)."""

    def __init__(
        self,
        service: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        connect_timeout: float = 1.0,
        read_timeout: float = 2.0,
        credentials: Callable[[], Credentials] = aws_credentials.current,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.service = service
        self._endpoint_url = endpoint_url
        self._region = region
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._credentials = credentials
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._http: wire.Endpoint | None = None
        self._base: tuple[str, str] | None = None  # (region, endpoint), once resolved

    def _where(self) -> tuple[str, str]:
        if self._base is None:
            region = aws_credentials.region(self._region)
            base = aws_credentials.endpoint(self.service, region, self._endpoint_url)
            self._base = (region, base)
        return self._base

    def _client(self, base: str) -> wire.Endpoint:
        with self._lock:
            if self._http is None:
                try:
                    self._http = wire.Endpoint(
                        base,
                        connect_timeout=self._connect_timeout,
                        read_timeout=self._read_timeout,
                    )
                except wire.InvalidURL as exc:
                    raise NotConfigured(
                        f"{self.service} endpoint {base!r} is not a valid URL"
                    ) from exc
            return self._http

    def send(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        """Sign and send one request (`path` already percent-encoded); a 2xx answer or an
        exception."""
        region, base = self._where()
        endpoint = self._client(base)
        url = base + path
        credentials = self._credentials()
        signed = sign(
            method, url, headers or {}, body, credentials, region, self.service, self._clock()
        )
        try:
            answer = endpoint.request(method, path, signed, body)
        except wire.TransportError as exc:
            raise Unreachable(operation, exc.kind) from exc
        content = answer.body
        expected = answer.headers.get("x-amz-crc32")
        if expected is not None and expected.isdigit() and zlib.crc32(content) != int(expected):
            raise Unreachable(operation, "CRC32Mismatch")  # damaged in transit: worth a retry
        if answer.status >= 300:
            code, message, data = parse_error(answer.status, answer.headers, content)
            raise AWSError(operation, answer.status, code, message, data)
        return Response(answer.status, answer.headers, content)

    def json(self, target: str, operation: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """One call of a JSON-protocol API (DynamoDB: `target` is `DynamoDB_20120810`)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": JSON_1_0, "X-Amz-Target": f"{target}.{operation}"}
        return self.send("POST", "/", operation=operation, headers=headers, body=body).json()

    def close(self) -> None:
        """Close the pooled connections; the next request opens new ones."""
        with self._lock:
            client, self._http = self._http, None
        if client is not None:
            client.close()
