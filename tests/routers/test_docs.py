"""`/docs` needs nothing but this app: every URL on the page is ours, relative, and answers.

Why: FastAPI's default page fetched Swagger UI from a CDN, so offline `/docs` was blank and
online it ran a third party's script unchecked. These tests need no browser (the browser
test is `test_docs_browser.py`); they pin what the page refers to and what those URLs serve,
on uvicorn's root and behind an API Gateway stage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mangum import Mangum

from orchestrator.aws.events import LambdaContext, http_api_event, response_body
from orchestrator.routers import docs
from tests.support.signing import PING_INTERACTION, dumps

ROOT = Path(__file__).resolve().parents[2]
CONTENT_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


class References(HTMLParser):
    """Every URL the page makes a browser load: `src`/`href` of its tags, and the spec URL
    its inline script hands to Swagger UI."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        self.tags.append((tag, found))
        self._in_script = tag == "script" and "src" not in found

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)

    def urls(self) -> dict[str, str]:
        """URL -> the tag (or `spec`) that loads it."""
        found = {
            attrs[name]: tag
            for tag, attrs in self.tags
            for name in ("src", "href")
            if name in attrs
        }
        for script in self.scripts:
            for url in re.findall(r"""\burl:\s*['"]([^'"]*)['"]""", script):
                found[url] = "spec"
        return found


def references(html: str) -> References:
    parser = References()
    parser.feed(html)
    parser.close()
    return parser


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


@pytest.mark.parametrize(
    ("page", "target", "relative"),
    [
        ("/docs", "/openapi.json", "openapi.json"),
        ("/docs", "/docs/assets/swagger-ui.css", "docs/assets/swagger-ui.css"),
        ("/api/docs", "/api/openapi.json", "openapi.json"),
        ("/a/docs", "/openapi.json", "../openapi.json"),
    ],
)
def test_urls_are_relative_to_the_page(page: str, target: str, relative: str) -> None:
    assert docs.relative_url(page, target) == relative
    for prefix in ("", "/dev", "/x/y"):
        assert urlsplit(urljoin(f"https://h{prefix}{page}", relative)).path == prefix + target


def test_the_page_refers_only_to_relative_urls_on_this_app(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    urls = references(html).urls()
    assert sorted(urls.values()) == ["link", "link", "script", "spec"], urls
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} leaves the app"
        assert not url.startswith("/"), f"{url} would miss an API Gateway stage prefix"
    # Nothing anywhere on the page names another host (no CDN, no tiangolo favicon).
    assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []
    for host in ("jsdelivr", "unpkg", "cdnjs", "tiangolo"):
        assert host not in html


def test_each_url_on_the_page_answers_with_its_content_type(client: TestClient) -> None:
    page = "http://testserver/docs"
    parsed = references(client.get("/docs").text)
    served = {}
    for url, tag in parsed.urls().items():
        response = client.get(urljoin(page, url))
        assert response.status_code == 200, url
        served[urlsplit(urljoin(page, url)).path] = response
        if tag == "spec":
            assert response.headers["content-type"] == "application/json"
            assert {"/discord", "/github"} <= set(response.json()["paths"])
            continue
        name = url.rpartition("/")[2]
        assert response.headers["content-type"] == CONTENT_TYPES[name]
        assert response.headers["x-content-type-options"] == "nosniff"
    assert set(served) == {
        "/openapi.json",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/assets/favicon-32x32.png",
    }
    assert served["/docs/assets/swagger-ui-bundle.js"].content.startswith(b"/*! For license")
    assert b"SwaggerUIBundle" in served["/docs/assets/swagger-ui-bundle.js"].content
    assert served["/docs/assets/favicon-32x32.png"].content.startswith(b"\x89PNG\r\n")


def test_script_and_stylesheet_carry_the_integrity_of_what_is_served(client: TestClient) -> None:
    page = "http://testserver/docs"
    tags = references(client.get("/docs").text).tags
    checked = 0
    for tag, attrs in tags:
        url = attrs.get("src") if tag == "script" else attrs.get("href")
        if url is None or (tag == "link" and attrs.get("rel") != "stylesheet"):
            continue
        body = client.get(urljoin(page, url)).content
        assert attrs.get("integrity") == sri(body), url
        checked += 1
    assert checked == 2


def test_the_assets_are_swagger_uis_official_files_from_the_package() -> None:
    """Byte for byte what `swagger-ui-dist` publishes: the package is data, never code."""
    folder = docs.asset_folder()
    assert folder.parent.name == "fastapi_swagger"
    bundle = (folder / "swagger-ui-bundle.js").read_bytes()
    assert re.search(rb'PACKAGE_VERSION:"5\.\d+\.\d+"', bundle), "not a swagger-ui 5 bundle"
    assert {name: asset.body for name, asset in docs.load_assets().items()} == {
        name: (folder / name).read_bytes() for name in CONTENT_TYPES
    }


def test_the_lockfiles_pin_the_package_with_hashes() -> None:
    for lockfile in ("runtime.txt", "dev.txt"):
        text = (ROOT / "requirements" / lockfile).read_text()
        pinned = re.search(
            r"^fastapi-swagger==[\d.]+ \\\n\s+--hash=sha256:[0-9a-f]{64}", text, re.M
        )
        assert pinned, f"fastapi-swagger is not pinned with a hash in requirements/{lockfile}"


def test_an_unchanged_asset_costs_a_304(client: TestClient) -> None:
    first = client.get("/docs/assets/swagger-ui-bundle.js")
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = client.get("/docs/assets/swagger-ui-bundle.js", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/docs/assets/swagger-ui.css", headers={"if-none-match": etag})
    assert other.status_code == 200 and other.content


@pytest.mark.parametrize(
    "path",
    [
        "/docs/assets/nope.js",
        "/docs/assets/swagger-ui.js.map",
        "/docs/assets/..%2F..%2Fmain.py",
        "/docs/assets/__init__.py",
    ],
)
def test_only_the_three_files_are_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_docs_routes_stay_out_of_the_openapi_description(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert not {p for p in paths if p.startswith("/docs")}


def test_behind_an_api_gateway_stage_every_url_on_the_page_resolves(app: FastAPI) -> None:
    """Mangum strips `/dev` and passes `root_path=""`: only page-relative URLs still work."""
    adapter = Mangum(app, lifespan="off", api_gateway_base_path="/dev")

    def get(path: str) -> dict[str, Any]:
        response: dict[str, Any] = adapter(
            http_api_event("GET", path, stage="dev"), LambdaContext()
        )
        return response

    page = get("/docs")
    assert page["statusCode"] == 200
    base = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/docs"
    urls = references(response_body(page).decode()).urls()
    assert len(urls) == 4
    for url in urls:
        path = urlsplit(urljoin(base, url)).path
        assert path.startswith("/dev/"), f"{url} resolves outside the stage: {path}"
        answer = get(path.removeprefix("/dev"))
        assert answer["statusCode"] == 200, (url, answer["statusCode"])
    favicon = get("/docs/assets/favicon-32x32.png")
    assert favicon["isBase64Encoded"] and response_body(favicon).startswith(b"\x89PNG")


def test_a_ping_reads_no_asset_and_no_request_imports_the_package(tmp_path: Path) -> None:
    """Cold starts: the files are read on the first `/docs`, and the package's own Python
    (which would add routes of its own) is never imported at all."""
    code = f"""
import json, sys
from fastapi.testclient import TestClient
from orchestrator.config import load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.main import create_app
from orchestrator.routers import docs
from tests.support.signing import discord_headers
settings = load_settings(ORCHESTRATOR_DATA_DIR={str(tmp_path)!r})
identity = load_or_create_dev_identity(settings.data_dir)
body = {dumps(PING_INTERACTION)!r}
with TestClient(create_app(settings)) as client:
    pong = client.post("/discord", content=body, headers=discord_headers(identity, body))
    after_ping = docs.load_assets.cache_info().currsize
    page = client.get("/docs").status_code
    after_docs = docs.load_assets.cache_info().currsize
print(json.dumps([pong.json(), after_ping, page, after_docs, "fastapi_swagger" in sys.modules]))
"""
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [{"type": 1}, 0, 200, 1, False]
