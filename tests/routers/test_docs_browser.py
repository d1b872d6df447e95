"""`/docs` in a real browser with the network off: Swagger UI renders our operations.

Why a browser: the page is a script that fetches `openapi.json` and builds the operation
list in the DOM; only running it shows that every file it needs is served, integrity-checked
and working offline. Debian's Chromium (`make test` installs it when run as root, as CI
does) driven through Playwright's Python API, against `orchestrator serve` on 127.0.0.1.
Every request that is not for 127.0.0.1 is aborted and recorded, and Chromium's resolver
knows no other host, so a CDN reference fails this test instead of quietly working online.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect, sync_playwright

from tests.support.servers import serve

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0  # the whole visit: launch, load, render, checks
STEP_MS = 20_000  # any single wait inside it
INSTALL_HINT = "sudo apt-get install chromium (or run `make test` as root, which installs it)"


def chromium() -> str:
    """Debian's Chromium, or skip (fail in CI, where `make test` must have installed it)."""
    found = shutil.which("chromium")
    if found is None:
        reason = f"chromium is not installed: {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # No name resolves but loopback: the network is off for the page, whatever
            # request routing below might miss.
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
            timeout=STEP_MS,
        )
        try:
            yield launched
        finally:
            launched.close()


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname == "127.0.0.1"


class OfflinePage:
    """A page whose every non-loopback request is aborted, and remembered."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.blocked: list[str] = []
        self.loaded: list[str] = []
        self.errors: list[str] = []
        page.route("**/*", self._route)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )

    def _route(self, route: Route, request: Request) -> None:
        if is_loopback(request.url):
            self.loaded.append(request.url)
            route.continue_()
        else:
            self.blocked.append(request.url)
            route.abort("internetdisconnected")


def test_the_docs_page_renders_the_discord_and_github_operations_offline(
    browser: Browser, tmp_path: Path
) -> None:
    started = time.monotonic()
    env = {"ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"), "ORCHESTRATOR_ENV": "test"}
    with serve(env, cwd=tmp_path) as server:
        context = browser.new_context(offline=False, service_workers="block")
        try:
            page = context.new_page()
            page.set_default_timeout(STEP_MS)
            offline = OfflinePage(page)
            response = page.goto(server.url + "/docs", wait_until="load")
            assert response is not None and response.status == 200

            try:
                for path in ("/discord", "/github"):
                    operation = page.locator(f".opblock-post:has([data-path='{path}'])")
                    expect(operation).to_have_count(1, timeout=STEP_MS)
                    expect(operation).to_be_visible(timeout=STEP_MS)
                    expect(operation.locator(".opblock-summary-method")).to_have_text(
                        "POST", timeout=STEP_MS
                    )
                expect(page.locator(".opblock-get [data-path='/healthz']")).to_be_visible(
                    timeout=STEP_MS
                )
                expect(page.locator(".info .title")).to_contain_text(
                    "orchestrator", timeout=STEP_MS
                )
            except AssertionError as exc:
                raise AssertionError(
                    f"{exc}\nblocked: {offline.blocked}\npage errors: {offline.errors}"
                ) from exc
        finally:
            context.close()

    assert offline.blocked == [], f"the page reached beyond 127.0.0.1: {offline.blocked}"
    assert offline.errors == [], f"the page logged errors: {offline.errors}"
    fetched = {urlsplit(url).path for url in offline.loaded}
    assert {
        "/docs",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/openapi.json",
    } <= fetched, fetched
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE_S, f"/docs took {elapsed:.1f} s to render"


@pytest.mark.parametrize(
    ("uid", "installed", "apt_calls"),
    [
        ("0", False, ["update -qq", "install -y -qq chromium"]),  # CI: root, bare machine
        ("0", True, []),  # present: nothing to do, quickly
        ("1000", False, []),  # not root: a note, never sudo
    ],
)
def test_make_installs_chromium_only_as_root_and_only_when_missing(
    tmp_path: Path, uid: str, installed: bool, apt_calls: list[str]
) -> None:
    """`make test` (CI's `.ci/run`) runs the `browser` target before pytest; with stand-ins
    for `id`, `apt-get` and `chromium` on a PATH of their own, see what it would do."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    makefile = (ROOT / "Makefile").read_text()
    pytest_target = next(line for line in makefile.splitlines() if line.startswith("pytest:"))
    assert "browser" in pytest_target.split(), "`make test` must ensure chromium first"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "apt-calls"
    stubs = {"id": f"echo {uid}", "apt-get": f'echo "$*" >> {calls}'}
    if installed:
        stubs["chromium"] = "exit 0"
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    run = subprocess.run(
        [make, "--no-print-directory", "-C", str(ROOT), "browser", "SHELL=/bin/sh"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert (calls.read_text().splitlines() if calls.exists() else []) == apt_calls
    if uid != "0" and not installed:
        assert "sudo apt-get install chromium" in run.stderr
