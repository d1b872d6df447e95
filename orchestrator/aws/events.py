"""API Gateway HTTP API (payload v2.0) events, built the way API Gateway builds them.

Used by the artifact gate, the benchmarks and the tests to drive
`orchestrator.main.handler` exactly as Lambda would.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


def http_api_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    query: str = "",
    stage: str = "$default",
    base64_body: bool = True,
) -> dict[str, Any]:
    """An HTTP API v2 event. With a named stage, paths carry the `/<stage>` prefix, as on AWS."""
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    lowered.setdefault("host", "abc123.execute-api.eu-west-1.amazonaws.com")
    lowered.setdefault("user-agent", "orchestrator-test")
    if body is not None:
        lowered.setdefault("content-length", str(len(body)))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": lowered["host"],
            "domainPrefix": "abc123",
            "http": {
                "method": method.upper(),
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": lowered["user-agent"],
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": stage,
            "time": "29/Nov/2026:04:00:00 +0000",
            "timeEpoch": 1_795_000_000_000,
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        if base64_body:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = body.decode()
    return event


def response_body(response: Mapping[str, Any]) -> bytes:
    """The body bytes of a Lambda proxy response, whatever its encoding."""
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode()


class LambdaContext:
    """The attributes of the runtime's context object that code may read."""

    def __init__(self, function_name: str = "orchestrator", remaining_ms: int = 30_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"
        )
        self.memory_limit_in_mb = 512
        self.aws_request_id = "00000000-0000-0000-0000-000000000000"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms
