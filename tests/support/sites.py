"""A real, threaded HTTP server on 127.0.0.1 standing in for an app's frontend and API.

    with Site(sha="abc1234...") as site:
        site.url + "/"          # 200 HTML, version meta tag, Cache-Control: no-cache
        site.route("/x", status=503, body="down")   # add or replace a route
        site.hits["/"]          # requests served per path

Built-in routes: `/` (good page), `/stale` (old version), `/cached` (max-age=86400),
`/bare` (no Cache-Control), `/error` (500), `/slow` (answers after `slow_seconds`),
`/flaky` (500 once, then the good page), `/redirect` (302 to `/`), `/healthz`,
`/version` (JSON `{"build": {"sha": ...}}`), `/text` (not JSON), `/big` (a 1 MB page).
Slow answers wait on an event, so closing the site releases them at once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.servers import QuietHTTPServer

OLD_SHA = "0000000111111122222223333333444444455555"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    fail_first: int = 0  # answer 500 this many times first


def page(sha: str) -> bytes:
    return (
        "<!doctype html><html><head><title>web</title>"
        f'<meta name="app-version" content="{sha}"></head>'
        "<body>hello</body></html>"
    ).encode()


class Site:
    def __init__(self, sha: str, *, slow_seconds: float = 3.0) -> None:
        self.sha = sha
        self.slow_seconds = slow_seconds
        self.hits: Counter[str] = Counter()
        self._released = threading.Event()
        self._lock = threading.Lock()
        html = {"content-type": "text/html; charset=utf-8"}
        json_type = {"content-type": "application/json"}
        self.routes: dict[str, Route] = {
            "/": Route(body=page(sha), headers={**html, "cache-control": "no-cache"}),
            "/stale": Route(body=page(OLD_SHA), headers={**html, "cache-control": "no-cache"}),
            "/cached": Route(body=page(sha), headers={**html, "cache-control": "max-age=86400"}),
            "/bare": Route(body=page(sha), headers=html),
            "/error": Route(status=500, body=b"boom", headers=html),
            "/slow": Route(
                body=page(sha), headers={**html, "cache-control": "no-cache"}, delay=slow_seconds
            ),
            "/flaky": Route(
                body=page(sha), headers={**html, "cache-control": "no-store"}, fail_first=1
            ),
            "/redirect": Route(status=302, headers={"location": "/"}),
            "/healthz": Route(body=b'{"ok": true}', headers=json_type),
            "/version": Route(body=json.dumps({"build": {"sha": sha}}).encode(), headers=json_type),
            "/text": Route(body=b"version: 1", headers={"content-type": "text/plain"}),
            "/big": Route(
                body=b"<html>" + b"x" * (1024 * 1024) + page(sha),
                headers={**html, "cache-control": "no-cache"},
            ),
        }
        self._server = QuietHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, path: str, **kwargs: Any) -> None:
        body = kwargs.pop("body", b"")
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.routes[path] = Route(body=body, **kwargs)

    def __enter__(self) -> Site:
        # A short poll interval: closing the site then takes milliseconds, not half a second.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY the second waits
            # for the peer's delayed ACK, ~40 ms on every keep-alive answer.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                with site._lock:
                    site.hits[path] += 1
                    count = site.hits[path]
                route = site.routes.get(path)
                if route is None:
                    route = Route(status=404, body=b"not found")
                if route.delay:
                    site._released.wait(route.delay)  # bounded; closing the site ends it early
                status, body = route.status, route.body
                if count <= route.fail_first:
                    status, body = 500, b"temporarily broken"
                try:
                    self.send_response(status)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting: expected for /slow
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
