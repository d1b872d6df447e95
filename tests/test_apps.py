from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.apps import App, InvalidApp, apps_of, get_app, set_override
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


def test_config_set_applies_the_fetch_address_policy(services: Services) -> None:
    """`/config set` and production fetches share one policy (`http.check_url`): a URL a
    fetch would refuse is refused when typed, as the app's own error."""
    web = get_app(services, "web")
    for url in ("https://169.254.169.254/latest", "https://0x7f000001/", "https://db.internal/"):
        with pytest.raises(InvalidApp, match=r"web\.frontend_url: .* not a public"):
            set_override(services.store, web, "frontend_url", url, production=True, actor="42")
    assert (
        set_override(
            services.store,
            web,
            "frontend_url",
            "http://127.0.0.1:8080",
            production=False,
            actor="1",
        ).frontend_url
        == "http://127.0.0.1:8080"
    )


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


def test_the_precedence_of_overrides_is_documented_for_every_settable_key() -> None:
    from orchestrator.apps import SETTABLE

    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    section = doc.split("## Changing app settings at runtime: precedence", 1)[1]
    assert "/config reset app key" in section and "wins over the file" in section
    assert [key for key in SETTABLE if f"`{key}`" not in section] == []


def test_the_apps_are_judged_once_per_version_of_the_file(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every delivery job loads the apps; the file is judged again only when it changes."""
    import os

    import orchestrator.apps

    judged: list[int] = []
    real_judge = orchestrator.apps._judge

    def counting(tables: Any, *, production: bool) -> Any:
        judged.append(len(tables))
        return real_judge(tables, production=production)

    monkeypatch.setattr(orchestrator.apps, "_judge", counting)
    assert sorted(apps_of(services)) == ["api", "web"]
    assert sorted(apps_of(services)) == ["api", "web"]
    assert judged == [2]
    config = services.settings.config_file
    config.write_text(CONFIG.replace('name = "api"', 'name = "worker"'))
    stat = config.stat()
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert sorted(apps_of(services)) == ["web", "worker"]  # the new file, judged anew
    assert judged == [2, 2]


def test_no_app_in_the_file_means_no_override_lookup(tmp_path: Path) -> None:
    """Nothing an override could apply to: the store is not asked (once per delivery job)."""
    from orchestrator.apps import load

    class NoQueries:
        def query_prefix(self, prefix: str, limit: int = 100) -> list[Any]:
            raise AssertionError(f"queried {prefix!r}")

    assert load(tmp_path / "missing.toml", NoQueries(), production=False).apps == {}  # type: ignore[arg-type]
