"""Calling an ASGI app directly, in-process: no server, no socket, just the app's own cost."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def http_scope(path: str, headers: Mapping[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(
    app: ASGIApp, path: str, headers: Mapping[str, str], body: bytes
) -> tuple[int, bytes]:
    """POST `body` to `app`; (status, response body)."""
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(http_scope(path, headers), receive, send)
    return status, b"".join(chunks)


async def per_call_us(
    app: ASGIApp,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    calls: int,
    expect: int,
) -> float:
    """Mean microseconds per in-process call over `calls` calls (each must answer `expect`)."""
    started = time.perf_counter()
    for _ in range(calls):
        status, answer = await call(app, path, headers, body)
        if status != expect:
            raise RuntimeError(f"{path} answered {status}, expected {expect}: {answer[:200]!r}")
    return (time.perf_counter() - started) / calls * 1e6
