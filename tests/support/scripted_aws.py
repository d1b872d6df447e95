"""A scripted AWS endpoint on 127.0.0.1: answers each request with the next scripted reply.

For what moto cannot produce on demand (an AccessDenied, a 5xx, throttling, a damaged
body) and to see exactly what our client sent: every request is kept, raw, with its
headers, so a test can check the signature with botocore's own signer.

    with ScriptedAWS(Reply(500), Reply(202)) as aws:
        ... endpoint_url=aws.url ...
        assert [r.path for r in aws.requests] == [...]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from unittest import mock

from tests.support.servers import QuietHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes; nothing for None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


def aws_error(code: str, status: int = 400, **extra: Any) -> Reply:
    """A JSON-protocol error (DynamoDB's spelling: `__type` with its namespace)."""
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code, **extra}
    return Reply(status, body, {"Content-Type": "application/x-amz-json-1.0"})


def rest_error(code: str, status: int) -> Reply:
    """A REST-protocol error (Lambda's spelling: the `x-amzn-ErrorType` header)."""
    body = {"Type": "User", "Message": f"scripted {code}"}
    return Reply(status, body, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"})


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # as sent, percent-encoding and query included
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


class ScriptedAWS:
    def __init__(self, *script: Reply) -> None:
        self.script = list(script)
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY the second waits
            # for the peer's delayed ACK, ~40 ms on every keep-alive answer.
            disable_nagle_algorithm = True

            def _answer(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with fake.lock:
                    fake.requests.append(
                        Received(self.command, self.path, dict(self.headers.items()), body)
                    )
                    reply = fake.script.pop(0) if fake.script else Reply(200, {})
                data = reply.encoded()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ScriptedAWS:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def botocore_authorization(
    request: Received, url: str, region: str, service: str, secret: str
) -> str:
    """The Authorization header botocore's SigV4 signer computes for `request` as received
    (same signed headers, same X-Amz-Date): equal to the one sent iff the signature holds."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    sent = request.header("Authorization") or ""
    access_key = sent.split("Credential=")[1].split("/")[0]
    signed = sent.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {k: v for k, v in request.headers.items() if k.lower() in signed}
    stamp = request.header("X-Amz-Date") or ""
    token = request.header("X-Amz-Security-Token")
    replay = AWSRequest(
        method=request.method, url=url + request.path, data=request.body, headers=headers
    )
    moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        SigV4Auth(Credentials(access_key, secret, token), service, region).add_auth(replay)
    return str(replay.headers["Authorization"])
