"""A fake GitHub REST API on 127.0.0.1 for tests: scripted answers, every request recorded.

Answers are set per (method, path) with `fake.on("GET", "/repos/o/r/...", body)`;
an unscripted route answers 404 the way GitHub does. Requests are recorded
with their JSON bodies so tests can assert what we asked GitHub to do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.servers import QuietHTTPServer

Responder = Callable[["Recorded"], tuple[int, Any, dict[str, str]]]


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    body: Any
    headers: dict[str, str]
    at: float = field(default_factory=time.time)


class FakeGitHub:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: dict[tuple[str, str], Responder] = {}
        self._lock = threading.Condition()
        self._server = QuietHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeGitHub:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def on(
        self,
        method: str,
        path: str,
        body: Any = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._routes[(method.upper(), path)] = lambda _: (status, body, headers or {})

    def respond(self, method: str, path: str, responder: Responder) -> None:
        self._routes[(method.upper(), path)] = responder

    def calls(self, method: str, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self.requests):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError([f"{r.method} {r.path}" for r in self.requests])
                self._lock.wait(remaining)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                recorded = Recorded(
                    self.command, path, query, body, {k.lower(): v for k, v in self.headers.items()}
                )
                responder = fake._routes.get((self.command, path))
                if responder is None:
                    status, answer, headers = (
                        404,
                        {
                            "message": "Not Found",
                            "documentation_url": "https://docs.github.com/rest",
                        },
                        {},
                    )
                else:
                    status, answer, headers = responder(recorded)
                with fake._lock:
                    fake.requests.append(recorded)
                    fake._lock.notify_all()
                payload = (
                    b""
                    if answer is None
                    else (
                        answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                    )
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if payload and "content-type" not in {h.lower() for h in headers}:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
