"""`GET /docs`: the Swagger UI page, with every file it needs served by this app.

Why not FastAPI's default page: it loads Swagger UI's script and stylesheet from a CDN
(jsDelivr) and its favicon from fastapi.tiangolo.com, so offline the page is blank, and
online it runs a third party's script with no integrity check. Here the files come from
the `fastapi-swagger` package, which carries the official `swagger-ui-dist` files byte for
byte, pinned with hashes in the lockfile and shipped in the Lambda artifact. It is used as
data only: its Python half would add a `/` redirect and absolute URLs we do not want, so it
is never imported, and its files are read on the first `/docs` request, never on the
`/discord` or `/github` path (cold starts).

Every URL on the page is relative to the page, so it resolves under any prefix: on Lambda
behind a named API Gateway stage Mangum strips `/<stage>` and passes `root_path=""`, so a
root-path-aware absolute URL would miss the stage. The script and stylesheet tags carry
`integrity` hashes of the very bytes the asset route serves.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import posixpath
from collections.abc import Mapping
from functools import cache, cached_property
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

PATH = "/docs"
ASSETS_PATH = PATH + "/assets"
# The distribution that ships the files, and where they sit inside it.
ASSET_PACKAGE = "fastapi_swagger"
ASSET_FOLDER = "resources"

SCRIPT = "swagger-ui-bundle.js"
STYLESHEET = "swagger-ui.css"
FAVICON = "favicon-32x32.png"
MEDIA_TYPES = {
    SCRIPT: "text/javascript; charset=utf-8",
    STYLESHEET: "text/css; charset=utf-8",
    FAVICON: "image/png",
}

router = APIRouter(include_in_schema=False)


class AssetsMissing(RuntimeError):
    """The package carrying Swagger UI's files is not installed (or lacks a file)."""


class Asset:
    """One of Swagger UI's files. A plain class: a dataclass's generated methods cost ~0.7 ms
    of every cold start (this module is imported by every one), for three attributes."""

    def __init__(self, name: str, media_type: str, body: bytes) -> None:
        self.name = name
        self.media_type = media_type
        self.body = body

    @cached_property
    def integrity(self) -> str:
        """The Subresource Integrity value of the body (what a browser checks it against)."""
        return "sha384-" + base64.b64encode(hashlib.sha384(self.body).digest()).decode()

    @cached_property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


def asset_folder() -> Path:
    """Where the installed package keeps the files, found without importing the package."""
    spec = importlib.util.find_spec(ASSET_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise AssetsMissing(f"{ASSET_PACKAGE} is not installed: /docs has no Swagger UI files")
    return Path(locations[0]) / ASSET_FOLDER


@cache
def load_assets() -> Mapping[str, Asset]:
    """Swagger UI's files, read once per process, on the first request that needs them."""
    folder = asset_folder()
    assets = {}
    for name, media_type in MEDIA_TYPES.items():
        try:
            body = (folder / name).read_bytes()
        except OSError as exc:
            raise AssetsMissing(f"{ASSET_PACKAGE} has no {name}: {exc}") from exc
        assets[name] = Asset(name, media_type, body)
    return assets


def asset_path(name: str) -> str:
    return f"{ASSETS_PATH}/{name}"


def relative_url(page: str, target: str) -> str:
    """`target` (an absolute path) as a URL relative to the page served at `page`.

    A browser resolves it against the page's own URL, whatever prefix a proxy or an API
    Gateway stage put in front of both."""
    return posixpath.relpath(target, posixpath.dirname(page) or "/")


def _with_integrity(html: str, attribute: str, asset: Asset) -> str:
    """Add `integrity` to the one tag whose `attribute` (src/href) names `asset`."""
    tag_end = f'{attribute}="{relative_url(PATH, asset_path(asset.name))}">'
    if html.count(tag_end) != 1:
        # FastAPI's template changed shape (the lockfile pins it; the tests catch it).
        raise ValueError(f"expected one {tag_end!r} in the Swagger UI page")
    return html.replace(tag_end, f'{tag_end[:-1]} integrity="{asset.integrity}">')


def docs_page(title: str, openapi_path: str, assets: Mapping[str, Asset]) -> str:
    """The Swagger UI page for `PATH`: only relative, same-origin URLs, integrity-checked."""
    # Imported here: `fastapi.openapi.docs` loads pydantic.v1 (~20 ms on a cold start) and
    # only /docs needs it, never the PING path.
    from fastapi.openapi.docs import get_swagger_ui_html

    page = get_swagger_ui_html(
        openapi_url=relative_url(PATH, openapi_path),
        title=f"{title} - Swagger UI",
        swagger_js_url=relative_url(PATH, asset_path(SCRIPT)),
        swagger_css_url=relative_url(PATH, asset_path(STYLESHEET)),
        swagger_favicon_url=relative_url(PATH, asset_path(FAVICON)),
    )
    html = bytes(page.body).decode()
    html = _with_integrity(html, "src", assets[SCRIPT])
    return _with_integrity(html, "href", assets[STYLESHEET])


def _matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


# Plain `def` endpoints: FastAPI runs them in its thread pool, so the first request's file
# reads and hashing never block the event loop.
@router.get(PATH)
def docs(request: Request) -> HTMLResponse:
    openapi_path = request.app.openapi_url
    if openapi_path is None:
        raise HTTPException(404, "this app publishes no OpenAPI description")
    return HTMLResponse(docs_page(request.app.title, openapi_path, load_assets()))


@router.get(ASSETS_PATH + "/{name}")
def asset(request: Request) -> Response:
    # The name is read from the path, not declared as a parameter: FastAPI's analysis of a
    # declared path parameter loads pydantic.v1 (~20 ms of every cold start, PING included).
    name = str(request.path_params.get("name", ""))
    found = load_assets().get(name)
    if found is None:
        raise HTTPException(404, f"no asset {name!r}")
    # Revalidate every time: the page pins each file's hash, so a stale cached copy after an
    # upgrade would be refused by the browser; an unchanged file costs a 304, not ~1.7 MB.
    headers = {
        "ETag": found.etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if _matches(request.headers.get("if-none-match"), found.etag):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
