from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

import orchestrator.apps
from orchestrator.apps import (
    App,
    InvalidApp,
    apps_of,
    check_url,
    get_app,
    public_only,
    set_override,
)
from orchestrator.config import load_settings
from orchestrator.services import Services

CONFIG = """
[[apps]]
name = "web"
repo = "acme/web"
workflow = "deploy.yml"
frontend_url = "https://web.example.com"
api_health_url = "https://api.example.com/healthz"

[[apps]]
name = "api"
repo = "acme/api"
workflow = "Client Deploy"
branch = "release"
"""


@pytest.mark.parametrize(
    ("url", "production", "ok"),
    [
        ("https://web.example.com", True, True),
        ("http://web.example.com", True, False),
        ("http://127.0.0.1:8080", False, True),
        ("https://127.0.0.1", True, False),
        ("https://10.0.0.5/health", True, False),
        ("https://169.254.169.254/latest", True, False),
        ("https://[::1]/", True, False),
        ("https://localhost/", True, False),
        ("https://db.internal/", True, False),
        ("https://user:pw@example.com/", True, False),
        ("ftp://example.com", False, False),
        ("https://", True, False),
        ("http://web.example.com", False, False),
        ("https://8.8.8.8/", True, True),
        # Other spellings of loopback and the metadata address (inet_aton's forms).
        ("https://127.1/", True, False),
        ("https://2130706433/", True, False),
        ("https://0x7f000001/", True, False),
        ("https://0177.0.0.1/", True, False),
        ("https://2852039166/latest", True, False),
        ("https://[::ffff:127.0.0.1]/", True, False),
        ("https://134744072/", True, True),  # 8.8.8.8, decimal: public
    ],
)
def test_check_url(url: str, production: bool, ok: bool) -> None:
    if ok:
        assert check_url(url, production=production) == url
    else:
        with pytest.raises(InvalidApp):
            check_url(url, production=production)


def test_production_fetches_refuse_names_that_resolve_inside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A public-looking name whose DNS answer is private is refused at fetch time."""
    answers = {
        "web.example.com": ["93.184.216.34"],
        "inside.example.com": ["10.1.2.3"],
        "mixed.example.com": ["93.184.216.34", "169.254.169.254"],
        "v6.example.com": ["fe80::1%eth0"],
    }
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in answers:
            raise socket.gaierror("no such name")
        return answers[host]

    monkeypatch.setattr(orchestrator.apps, "resolve", resolve)

    def fetch(url: str) -> None:
        asyncio.run(public_only(httpx.Request("GET", url)))

    fetch("https://web.example.com/health")
    with pytest.raises(InvalidApp, match="does not resolve"):
        fetch("https://unknown.example.com/")  # nothing checked, nothing connected
    for inside in ("inside", "mixed", "v6"):
        with pytest.raises(InvalidApp, match="non-public"):
            fetch(f"https://{inside}.example.com/")
    with pytest.raises(InvalidApp, match="not a public address"):
        fetch("https://2130706433/")
    with pytest.raises(InvalidApp, match="only https"):
        fetch("http://web.example.com/")
    assert "inside.example.com" in asked and "2130706433" not in asked


@pytest.fixture
def services(tmp_path: Path) -> Services:
    config = tmp_path / "orchestrator.toml"
    config.write_text(CONFIG)
    return Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, ORCHESTRATOR_CONFIG=config))


def test_apps_load_from_the_config_file(services: Services) -> None:
    apps = apps_of(services)
    assert sorted(apps) == ["api", "web"]
    assert apps["api"].branch == "release"
    assert apps["web"].branch == "main"


def test_get_app_needs_a_name_when_there_are_several(services: Services) -> None:
    assert get_app(services, "web").repo == "acme/web"
    with pytest.raises(InvalidApp, match="which app"):
        get_app(services, None)
    with pytest.raises(InvalidApp, match="no app 'nope'"):
        get_app(services, "nope")


def test_overrides_are_validated_persisted_and_applied(services: Services) -> None:
    web = get_app(services, "web")
    updated = set_override(
        services.store, web, "frontend_url", "https://new.example.com", production=True, actor="42"
    )
    assert updated.frontend_url == "https://new.example.com"
    assert apps_of(services)["web"].frontend_url == "https://new.example.com"
    with pytest.raises(InvalidApp, match="https"):
        set_override(services.store, web, "api_health_url", "http://x", production=True, actor="42")
    with pytest.raises(InvalidApp, match="cannot be set"):
        set_override(services.store, web, "repo", "evil/repo", production=True, actor="42")
    with pytest.raises(InvalidApp, match="cannot be empty"):
        set_override(services.store, web, "branch", " ", production=True, actor="42")
    cleared = set_override(services.store, web, "frontend_url", "", production=True, actor="1")
    assert cleared.frontend_url is None


@pytest.mark.parametrize(
    "data",
    [
        {"name": "Web", "repo": "a/b", "workflow": "d.yml"},
        {"name": "web", "repo": "ab", "workflow": "d.yml"},
        {"name": "web", "repo": "a/b", "workflow": ""},
        {"name": "web", "repo": "a/b", "workflow": "d.yml", "frontend_url": "http://x.com"},
        {"name": "web", "repo": "a/b", "workflow": "d.yml", "colour": "blue"},
        {"name": "web", "repo": "a/b", "workflow": "d.yml", "frontend_version_pattern": "("},
    ],
)
def test_invalid_apps_are_refused(data: dict[str, str]) -> None:
    with pytest.raises(InvalidApp):
        App.from_dict(data).validate(production=True)


def test_no_config_file_means_no_apps(tmp_path: Path) -> None:
    services = Services(
        load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, ORCHESTRATOR_CONFIG=tmp_path / "missing.toml")
    )
    assert apps_of(services) == {}
    with pytest.raises(InvalidApp, match="no apps configured"):
        get_app(services, None)
