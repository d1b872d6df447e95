"""A local stand-in for Discord's REST API, on 127.0.0.1.

`orchestrator simulate` points the service at it to capture and print the
follow-ups of deferred commands, so a newcomer sees the whole round trip with
no Discord account; the tests use it as the fake Discord that records (and
checks) everything we send. Standard library only: it runs wherever the CLI does.

It answers the routes the bot uses with plausible objects, remembers
registered commands, and can be told to fail the next requests (429, 5xx)
to exercise retries. The dev server runs one for as long as it runs; what it
recorded is listed at `GET /_standin/requests?since=N` (outside the API's
path), which is how `orchestrator simulate`, another process, shows the
follow-ups and channel posts its command caused.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

_API_PREFIX = re.compile(r"^/api/v\d+")
RECORD_PATH = "/_standin/requests"
_ids = itertools.count(1_300_000_000_000_000_000)


@dataclass
class Captured:
    method: str
    path: str  # without the /api/vN prefix
    query: str
    body: Any
    authorization: str | None  # only the scheme ("Bot"), never the token
    at: float = field(default_factory=time.time)

    @property
    def route(self) -> str:
        """The path with ids and tokens replaced: `PATCH /webhooks/{id}/{token}/messages/...`."""
        parts = self.path.strip("/").split("/")
        out = []
        for index, part in enumerate(parts):
            if part.isdigit():
                out.append("{id}")
            elif index == 2 and parts[0] == "webhooks":
                out.append("{token}")
            else:
                out.append(part)
        return f"{self.method} /" + "/".join(out)


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str]


class _StandInServer(ThreadingHTTPServer):
    """Threaded, and quiet when the service hangs up before our answer is written.

    The service's REST client gives up on slow answers by design (its timeouts),
    so a broken pipe here is an expected outcome, not a traceback for the console.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class DiscordStandIn:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[Captured] = []
        self._commands: dict[str, list[dict[str, Any]]] = {}
        self._messages: dict[str, dict[str, Any]] = {}
        self._nonces: dict[tuple[str, str], str] = {}  # (channel, nonce) -> the first message
        self._script: list[Scripted] = []
        self._delays: list[float] = []
        self._changed = threading.Condition()
        self.on_request: Callable[[Captured], None] | None = None
        self._server = _StandInServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    def start(self) -> DiscordStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns promptly
            daemon=True,
            name="discord-standin",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> DiscordStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls --------------------------------------------------------------------------

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Hold the next `times` answers for `seconds` (a slow or hung Discord)."""
        with self._changed:
            self._delays.extend([seconds] * times)

    def fail_next(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` requests with this status instead of the normal answer."""
        with self._changed:
            self._script.extend(Scripted(status, body, headers or {}) for _ in range(times))

    def recover(self) -> None:
        """Discord is back: drop the scripted failures and delays not yet used."""
        with self._changed:
            self._script.clear()
            self._delays.clear()

    def wait_for(
        self, predicate: Callable[[list[Captured]], bool], timeout: float = 10.0
    ) -> list[Captured]:
        """Block until `predicate(requests)` holds; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.requests):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"stand-in saw {len(self.requests)} requests: "
                        f"{[r.route for r in self.requests]}"
                    )
                self._changed.wait(remaining)
            return list(self.requests)

    def recorded(self, since: int = 0) -> dict[str, Any]:
        """The requests recorded from index `since` on, as JSON, with the total so far."""
        with self._changed:
            found = self.requests[max(0, since) :]
            return {
                "count": len(self.requests),
                "requests": [
                    {
                        "index": since + offset,
                        "method": r.method,
                        "path": r.path,
                        "route": r.route,
                        "query": r.query,
                        "body": r.body,
                        "at": r.at,
                    }
                    for offset, r in enumerate(found)
                ],
            }

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages that exist in a channel (each once, however often it was posted)."""
        with self._changed:
            return [m for m in self._messages.values() if m.get("channel_id") == channel_id]

    def registered(self, guild_id: str | None = None) -> list[dict[str, Any]]:
        return list(self._commands.get(guild_id or "global", []))

    # -- routing --------------------------------------------------------------------------------

    def _answer(self, captured: Captured) -> tuple[int, Any, dict[str, str]]:
        with self._changed:
            if self._script:
                scripted = self._script.pop(0)
                return scripted.status, scripted.body, scripted.headers
        parts = captured.path.strip("/").split("/")
        method = captured.method
        if parts[:1] == ["webhooks"] and len(parts) >= 3:
            if method == "DELETE":
                return 204, None, {}
            if len(parts) == 3 and method == "POST":
                return 200, self._message(captured.body, channel_id=None), {}
            if len(parts) == 5 and parts[3] == "messages" and method in ("PATCH", "GET"):
                return 200, self._message(captured.body, message_id=parts[4]), {}
        if parts[:1] == ["channels"] and len(parts) >= 3 and parts[2] == "messages":
            if method == "POST" and len(parts) == 3:
                repeated = self._repeated(captured.body, parts[1])
                if repeated is not None:
                    return 200, repeated, {}
                return 200, self._message(captured.body, channel_id=parts[1]), {}
            if method == "PATCH" and len(parts) == 4:
                return (
                    200,
                    self._message(captured.body, channel_id=parts[1], message_id=parts[3]),
                    {},
                )
        if captured.path == "/users/@me" and method == "GET":
            return (
                200,
                {
                    "id": "100000000000000001",
                    "username": "orchestrator",
                    "bot": True,
                    "discriminator": "0",
                },
                {},
            )
        if captured.path == "/users/@me/channels" and method == "POST":
            return 200, {"id": str(next(_ids)), "type": 1}, {}
        if parts[:1] == ["applications"] and parts[-1] == "commands":
            scope = parts[3] if len(parts) == 5 and parts[2] == "guilds" else "global"
            if method == "GET":
                return 200, self._commands.get(scope, []), {}
            if method == "PUT" and isinstance(captured.body, list):
                stored = [
                    {**command, "id": str(next(_ids)), "version": str(next(_ids))}
                    for command in captured.body
                ]
                self._commands[scope] = stored
                return 200, stored, {}
        return 404, {"message": "404: Not Found", "code": 0}, {}

    def _repeated(self, body: Any, channel_id: str) -> dict[str, Any] | None:
        """Discord's `enforce_nonce`: a second message with the same nonce (from the same
        author, within minutes) is not created; the first one is returned instead."""
        if not isinstance(body, dict) or not body.get("enforce_nonce") or not body.get("nonce"):
            return None
        key = (channel_id, str(body["nonce"]))
        first = self._nonces.get(key)
        if first is not None:
            return self._messages.get(first)
        self._nonces[key] = ""  # filled in by the caller's `_message`, below
        return None

    def _message(
        self, body: Any, *, channel_id: str | None = None, message_id: str | None = None
    ) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        message_id = message_id if message_id and message_id.isdigit() else str(next(_ids))
        stored = self._messages.get(message_id, {"id": message_id, "channel_id": channel_id or "1"})
        stored = {**stored, **{k: v for k, v in body.items() if k != "allowed_mentions"}}
        self._messages[message_id] = stored
        if isinstance(body.get("nonce"), str | int) and channel_id is not None:
            key = (channel_id, str(body["nonce"]))
            if self._nonces.get(key) == "":
                self._nonces[key] = message_id
        return stored

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY the second waits
            # for the peer's delayed ACK, ~40 ms on every keep-alive answer.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                if path == RECORD_PATH:
                    self._record(query)
                    return
                path = _API_PREFIX.sub("", path) or "/"
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                auth = self.headers.get("authorization")
                captured = Captured(
                    self.command, path, query, body, auth.split(" ", 1)[0] if auth else None
                )
                with standin._changed:  # recorded on arrival: a held request is visible
                    delay = standin._delays.pop(0) if standin._delays else 0.0
                    standin.requests.append(captured)
                    standin._changed.notify_all()
                if delay:
                    time.sleep(delay)
                status, answer, headers = standin._answer(captured)
                if standin.on_request is not None:
                    standin.on_request(captured)
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _record(self, query: str) -> None:
                since = parse_qs(query).get("since", ["0"])[0]
                answer = standin.recorded(int(since) if since.isdigit() else 0)
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tokens in paths
                return

        return Handler
