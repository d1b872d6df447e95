from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from orchestrator.buildinfo import build_info
from orchestrator.config import load_settings
from orchestrator.main import create_app
from orchestrator.services import Services
from orchestrator.store.base import StoreUnavailable
from orchestrator.store.sqlite import SQLiteStore


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
    assert "/openapi.json" in response.text


def test_every_route_is_described_with_an_example(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["description"]
    operations = [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
    ]
    assert {(p, m) for p, m, _ in operations} >= {
        ("/healthz", "get"),
        ("/version", "get"),
        ("/discord", "post"),
        ("/github", "post"),
    }
    for path, method, op in operations:
        assert op.get("description"), f"{method} {path} has no description"
        text = str(op) + str(spec.get("components", {}))
        assert "example" in text, f"{method} {path} has no example"
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"].get("example"), (path, status)


def test_unknown_routes_get_a_json_404(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
