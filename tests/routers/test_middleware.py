"""The app's two outer layers: the signed edge, then the access log, outside FastAPI's own.

They sit outside Starlette's error layer (`main._App`), so the edge answers for a bug of its
own: the same JSON 500 as a crash inside the app, logged to our log. Whichever layer
answers, the answer carries the request id and gets one access line.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware.errors import ServerErrorMiddleware

from orchestrator import logs
from orchestrator.devkeys import DevIdentity
from orchestrator.discord import verify
from orchestrator.logs import JSONFormatter
from orchestrator.routers.edge import SignedEdge
from orchestrator.routers.middleware import AccessLog
from tests.support.asgi import post_scope
from tests.support.logs import alone, json_handler
from tests.support.signing import PING_INTERACTION, discord_headers, dumps, github_headers

PING = dumps(PING_INTERACTION)


def test_the_edge_and_the_access_log_wrap_fastapis_own_layers(app: FastAPI) -> None:
    stack = app.build_middleware_stack()
    assert isinstance(stack, SignedEdge)
    assert isinstance(stack.app, AccessLog)
    assert isinstance(stack.app.app, ServerErrorMiddleware)  # FastAPI's outermost, as built


def test_a_bug_in_the_edge_answers_the_json_500_and_is_logged(
    app: FastAPI,
    identity: DevIdentity,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("edge bug")

    monkeypatch.setattr(verify, "verify_signed", broken)
    # The default client re-raises what reaches the server: nothing does.
    with TestClient(app) as client, caplog.at_level(logging.INFO):
        response = client.post(
            "/discord",
            content=PING,
            headers={**discord_headers(identity, PING), "x-request-id": "edge-bug-1"},
        )
    assert response.status_code == 500
    assert response.json() == {"error": "internal", "message": "something broke on our side"}
    assert response.headers["x-request-id"] == "edge-bug-1"
    assert int(response.headers["content-length"]) == len(response.content)
    [crash] = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert crash.exc_info is not None and "edge bug" in str(crash.exc_info[1])
    access = [r for r in caplog.records if r.name == "orchestrator.access"]
    assert [r.__dict__["status"] for r in access] == [500]


def test_a_crash_inside_the_app_is_answered_by_its_own_layer_once(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("route bug")

    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.INFO),
    ):
        response = client.get("/boom", headers={"x-request-id": "route-bug-1"})
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
    assert response.headers["x-request-id"] == "route-bug-1"
    assert len([r for r in caplog.records if r.getMessage() == "unhandled error"]) == 1
    access = [r for r in caplog.records if r.name == "orchestrator.access"]
    assert [r.__dict__["status"] for r in access] == [500]


def test_the_ping_is_answered_with_the_request_id(
    client: TestClient, identity: DevIdentity
) -> None:
    response = client.post(
        "/discord", content=PING, headers={**discord_headers(identity, PING), "x-request-id": "p1"}
    )
    assert (response.status_code, json.loads(response.content)) == (200, {"type": 1})
    assert response.headers["x-request-id"] == "p1"


class JSONLines(io.StringIO):
    """What our JSON formatter writes (context fields included) while the test runs."""

    def entries(self, logger: str | None = None) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.getvalue().splitlines()]
        return [e for e in parsed if logger is None or e["logger"] == logger]


@pytest.fixture
def json_lines() -> Iterator[JSONLines]:
    stream = JSONLines()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_the_edges_own_answers_get_one_access_line_with_the_ids(
    client: TestClient, identity: DevIdentity, json_lines: JSONLines
) -> None:
    forged = {**discord_headers(identity, PING), "x-signature-ed25519": "ab" * 64}
    pong = client.post(
        "/discord", content=PING, headers={**discord_headers(identity, PING), "x-request-id": "a"}
    )
    refused = client.post("/discord", content=PING, headers={**forged, "x-request-id": "b"})
    assert (pong.status_code, refused.status_code) == (200, 401)
    assert refused.headers["x-request-id"] == "b"
    lines = json_lines.entries("orchestrator.access")
    assert [(line["status"], line["request_id"]) for line in lines] == [(200, "a"), (401, "b")]
    assert lines[0]["interaction_id"] == PING_INTERACTION["id"]
    assert "interaction_id" not in lines[1]  # a forged body's ids are never read
    for line in lines:
        assert (line["route"], line["method"]) == ("/discord", "POST")
        assert isinstance(line["duration_ms"], float)


def test_what_the_edge_passes_on_is_logged_once_in_the_edges_context(
    client: TestClient, identity: DevIdentity, json_lines: JSONLines
) -> None:
    body = dumps({"zen": "Keep it logically awesome.", "hook_id": 1})
    headers = github_headers(identity.github_webhook_secret, body, "ping", "delivery-7")
    answer = client.post("/github", content=body, headers={**headers, "x-request-id": "c"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == "c"
    forged = {**headers, "x-hub-signature-256": "sha256=" + "0" * 64, "x-github-delivery": "d-8"}
    assert client.post("/github", content=body, headers=forged).status_code == 401
    line, refused = json_lines.entries("orchestrator.access")
    # The delivery id the edge read, and what the route bound: one context, edge to route.
    assert (line["request_id"], line["delivery_id"], line["event"]) == ("c", "delivery-7", "ping")
    assert line["status"] == 200
    assert (refused["status"], refused["delivery_id"]) == (401, "d-8")  # the header, as sent


def test_a_bug_in_the_edge_is_logged_with_the_request_id(
    app: FastAPI, identity: DevIdentity, monkeypatch: pytest.MonkeyPatch, json_lines: JSONLines
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("edge bug")

    monkeypatch.setattr(verify, "verify_signed", broken)
    with TestClient(app) as client:
        client.post(
            "/discord",
            content=PING,
            headers={**discord_headers(identity, PING), "x-request-id": "d"},
        )
    [crash] = [e for e in json_lines.entries() if e["msg"] == "unhandled error"]
    assert crash["request_id"] == "d" and "edge bug" in crash["error"]
    assert [e["status"] for e in json_lines.entries("orchestrator.access")] == [500]


def _call(
    app: FastAPI, headers: dict[str, str], body: bytes, send: Any, receive: Any = None
) -> None:
    scope = post_scope("/discord", [(k.lower().encode(), v.encode()) for k, v in headers.items()])

    async def whole_body() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    asyncio.run(app(scope, receive or whole_body, send))


@pytest.mark.parametrize("signed", [True, False], ids=["PING", "refusal"])
def test_an_answer_the_client_never_got_is_still_logged_once(
    app: FastAPI, identity: DevIdentity, json_lines: JSONLines, signed: bool
) -> None:
    async def gone(message: dict[str, Any]) -> None:
        raise OSError("client went away")

    headers = discord_headers(identity, PING)
    if not signed:
        headers["x-signature-ed25519"] = "ab" * 64
    with pytest.raises(OSError, match="client went away"):
        _call(app, headers, PING, gone)
    [line] = json_lines.entries("orchestrator.access")
    assert line["status"] == (200 if signed else 401)


def test_a_request_cancelled_while_its_body_is_read_is_logged_once(
    app: FastAPI, identity: DevIdentity, json_lines: JSONLines
) -> None:
    async def never(message: dict[str, Any]) -> None:
        raise AssertionError("nothing is sent")

    async def cancelled() -> dict[str, Any]:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        _call(app, discord_headers(identity, PING), PING, never, cancelled)
    [line] = json_lines.entries("orchestrator.access")
    assert line["status"] == 500  # no answer went out


def test_the_edges_line_is_written_as_the_access_logs_is(
    client: TestClient, identity: DevIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written with our handler alone on the root (production's case: no `LogRecord`), the
    edge's own line has the access log's fields in the access log's order."""
    stream = io.StringIO()
    json_handler(monkeypatch, stream)
    with alone():
        client.post(
            "/discord",
            content=PING,
            headers={**discord_headers(identity, PING), "x-request-id": "o"},
        )
        client.get("/healthz", headers={"x-request-id": "h"})
        logs.flush()  # written at the end of the app's loop turn, which runs on its own
    ping, health = (
        json.loads(line)
        for line in stream.getvalue().splitlines()
        if json.loads(line)["logger"] == "orchestrator.access"
    )
    head = ["ts", "level", "logger", "msg", "request_id", "route", "method"]
    assert list(ping) == [*head, "interaction_id", "status", "duration_ms"]
    assert list(health) == [*head, "status", "duration_ms"]
    assert (ping["request_id"], ping["status"], health["request_id"]) == ("o", 200, "h")


def test_a_crashed_requests_line_is_written_before_the_server_reports_the_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Plain `uvicorn` reports a crash through its own handler, which does not write our
    pending lines first: the access log writes the crashed request's line itself."""

    async def crashing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("route bug")

    async def nothing(message: dict[str, Any]) -> None:
        return None

    stream = io.StringIO()
    json_handler(monkeypatch, stream)

    async def one_turn() -> None:
        with pytest.raises(RuntimeError, match="route bug"):
            await AccessLog(crashing)(post_scope("/x", []), _whole(b""), nothing)
        # What the server does next (its traceback) comes after this line.
        [line] = stream.getvalue().splitlines()
        assert json.loads(line)["status"] == 500

    with alone():
        asyncio.run(one_turn())


def _whole(body: bytes) -> Any:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


@pytest.mark.parametrize(
    ("elapsed", "shown"),
    [(0.000123456, "0.12"), (0.0019999, "1.99"), (2.5, "2500.0"), (0.0, "0.0"), (0.0305, "30.5")],
)
def test_durations_are_milliseconds_cut_to_the_hundredth(
    monkeypatch: pytest.MonkeyPatch, elapsed: float, shown: str
) -> None:
    """Cut, not rounded (1.9999 ms is 1.99), and printed as the decimal it stands for."""
    from orchestrator.routers import middleware

    monkeypatch.setattr(middleware.time, "perf_counter", lambda: 100.0 + elapsed)
    assert repr(middleware._duration_ms({middleware.STARTED: 100.0})) == shown


def test_a_fresh_request_id_is_sixteen_hex_digits_and_new_each_time() -> None:
    from orchestrator.routers import middleware

    ids = {middleware.request_id({"headers": []}) for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ([b"abc"], "abc"),
        ([b"x" * 100], "x" * 100),
        ([b"x" * 101], None),  # too long: a fresh id
        ([b""], None),
        ([b"", b"second"], None),  # the first header decides, as the edge reads it
        ([b"first", b"second"], "first"),
        ([], None),
    ],
)
def test_the_request_id_is_the_first_x_request_id_if_usable(
    given: list[bytes], kept: str | None
) -> None:
    """The edge reads the header in its own pass (`_headers`) and `request_id` on its own:
    both choose the same id."""
    from orchestrator.routers import edge, middleware

    headers = [(b"host", b"h"), *((b"x-request-id", value) for value in given)]
    alone_scope: dict[str, Any] = {"headers": headers}
    by_edge: dict[str, Any] = {"headers": headers}
    at = edge._DISCORD_HEADERS[middleware.REQUEST_ID_HEADER]
    edge_sees = edge._headers(by_edge, edge._DISCORD_HEADERS)[at]
    chosen = (middleware.request_id(alone_scope), middleware.choose_request_id(by_edge, edge_sees))
    if kept is None:
        assert all(len(c) == 16 and int(c, 16) >= 0 for c in chosen)
    else:
        assert chosen == (kept, kept)
    assert middleware.request_id(by_edge) == chosen[1]  # kept in the scope
