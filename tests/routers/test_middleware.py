"""The app's two outer layers: the access log, then the signed edge, outside FastAPI's own.

They sit outside Starlette's error layer (`main._App`), so the access log answers for a bug
in the edge itself: the same JSON 500 as a crash inside the app, logged to our log.
"""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware.errors import ServerErrorMiddleware

from orchestrator.devkeys import DevIdentity
from orchestrator.discord import verify
from orchestrator.routers.edge import SignedEdge
from orchestrator.routers.middleware import AccessLog
from tests.support.signing import PING_INTERACTION, discord_headers, dumps

PING = dumps(PING_INTERACTION)


def test_the_access_log_and_the_edge_wrap_fastapis_own_layers(app: FastAPI) -> None:
    stack = app.build_middleware_stack()
    assert isinstance(stack, AccessLog)
    assert isinstance(stack.app, SignedEdge)
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
