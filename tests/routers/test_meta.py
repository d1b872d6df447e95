from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from fastapi.testclient import TestClient

from orchestrator.buildinfo import build_info
from orchestrator.config import load_settings
from orchestrator.devkeys import DevIdentity
from orchestrator.main import create_app
from orchestrator.services import Services
from orchestrator.store.base import StoreUnavailable
from orchestrator.store.sqlite import SQLiteStore
from tests.support.signing import discord_headers


def test_healthz_reports_the_store(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "store": "ok"}


class BrokenStore(SQLiteStore):
    def ping(self) -> None:
        raise StoreUnavailable("sqlite: disk I/O error")


def test_healthz_is_503_when_the_store_is_down(tmp_path: Path) -> None:
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path)
    services = Services(settings, store=BrokenStore(tmp_path / "s.sqlite3"))
    with TestClient(create_app(services=services)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "store": "unreachable"}


def test_healthz_is_503_when_the_database_file_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    store.close()
    path.write_bytes(b"this is not a database" * 100)
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, ORCHESTRATOR_SQLITE_PATH=path)
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503


def test_version_names_the_running_code(client: TestClient) -> None:
    response = client.get("/version")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"version", "sha", "built_at", "python", "source"}
    assert body["sha"] == build_info().sha
    assert body["sha"] == "unknown" or len(body["sha"]) == 40


def test_docs_render(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "url: 'openapi.json'" in response.text  # relative: see test_docs.py


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in methods
    ]


def _examples(media: dict[str, Any]) -> list[Any]:
    """The example values of one media type object (`example`, or each of `examples`)."""
    found = []
    if "example" in media:
        found.append(media["example"])
    for name, example in (media.get("examples") or {}).items():
        assert isinstance(example, dict) and "value" in example, name
        found.append(example["value"])
    return found


def test_every_route_is_described_with_an_example(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["description"]
    operations = _operations(spec)
    assert {(p, m) for p, m, _ in operations} >= {
        ("/healthz", "get"),
        ("/version", "get"),
        ("/discord", "post"),
        ("/github", "post"),
    }
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert str(op.get("description") or "").strip(), f"{where} has no description"
        assert op["responses"], f"{where} declares no responses"
        for status, response in op["responses"].items():
            assert response.get("description"), f"{where} {status} has no description"
            media = (response.get("content") or {}).get("application/json")
            assert media is not None, f"{where} {status} declares no application/json body"
            examples = _examples(media)
            assert examples, f"{where} {status} has no example"
            schema = media.get("schema")
            for example in examples:
                assert example not in (None, {}, ""), f"{where} {status} has an empty example"
                if schema:
                    jsonschema.validate(example, schema)
        if method == "post" and "requestBody" in op:
            body = op["requestBody"]["content"].get("application/json")
            assert body is not None, f"{where} takes no application/json body"
            examples = _examples(body)
            assert examples, f"{where} has no request body example"
            for example in examples:
                jsonschema.validate(example, body.get("schema") or {})


def test_the_error_examples_are_the_product_error_shape(client: TestClient) -> None:
    """Every documented refusal looks like a real one: `{"error", "message"}`.

    (`/healthz`'s 503 is a health report, not a refusal: it has its own shape.)"""
    spec = client.get("/openapi.json").json()
    checked = 0
    for path, method, op in _operations(spec):
        for status, response in op["responses"].items():
            if not status.startswith(("4", "5")) or path == "/healthz":
                continue
            for example in _examples(response["content"]["application/json"]):
                assert set(example) == {"error", "message"}, (method, path, status, example)
                checked += 1
    assert checked >= 7  # /discord 400 401 413, /github 400 401 413 503


def test_the_discord_examples_are_a_real_exchange(
    client: TestClient, identity: DevIdentity
) -> None:
    """The documented request, signed, gets the documented answer."""
    op = client.get("/openapi.json").json()["paths"]["/discord"]["post"]
    [request] = _examples(op["requestBody"]["content"]["application/json"])
    [answer] = _examples(op["responses"]["200"]["content"]["application/json"])
    body = json.dumps(request).encode()
    response = client.post("/discord", content=body, headers=discord_headers(identity, body))
    assert response.status_code == 200
    assert response.json() == answer


def test_every_request_body_media_type_has_an_example(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    missing = [
        (method, path, kind)
        for path, method, op in _operations(spec)
        for kind, media in (op.get("requestBody") or {}).get("content", {}).items()
        if not _examples(media)
    ]
    assert missing == []


def test_github_examples_sit_under_the_status_that_returns_them(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/github"]["post"]["responses"]
    shown = {
        status: set(responses[status]["content"]["application/json"].get("examples") or {})
        for status in ("200", "202")
    }
    assert shown == {"200": {"ping", "duplicate"}, "202": {"accepted", "ignored"}}


def test_unknown_routes_get_a_json_404(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
