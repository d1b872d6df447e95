"""A config file production would refuse never reaches production unnoticed.

Locally `http://127.0.0.1` URLs are allowed; in production they (and private hosts) are
refused, and an app with one breaks every app command, `/config show` included. So
`orchestrator build` refuses to ship such a file, production startup refuses to start with
one, and `/healthz` names what is wrong while running: each names the field.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.apps import apps_of, file_problems, loaded_of
from orchestrator.config import ConfigError, load_settings
from orchestrator.devkeys import load_or_create_dev_identity
from orchestrator.devtools.build import CONFIG_FILE, config_refusals
from orchestrator.main import create_app
from orchestrator.product import config_problems
from orchestrator.services import Services
from orchestrator.store import keys

ROOT = Path(__file__).resolve().parents[1]
LOCAL = """
[[apps]]
name = "web"
repo = "acme/web"
workflow = "deploy.yml"
frontend_url = "http://127.0.0.1:8080/"
api_health_url = "https://10.0.0.5/healthz"
"""
PUBLIC = """
[[apps]]
name = "web"
repo = "acme/web"
workflow = "deploy.yml"
frontend_url = "https://web.example.com/"
"""
REFUSED = [
    "apps[web].frontend_url: only https URLs are allowed",
    "apps[web].api_health_url: 10.0.0.5 is not a public address",
]


def write(folder: Path, text: str) -> Path:
    path = folder / CONFIG_FILE
    path.write_text(text, encoding="utf-8")
    return path


# --- the rules ---------------------------------------------------------------------------------


def test_production_rules_name_every_bad_field(tmp_path: Path) -> None:
    config = write(tmp_path, LOCAL)
    assert config_problems(config, production=True) == REFUSED
    assert config_problems(config, production=False) == []  # loopback http, private hosts
    assert config_problems(write(tmp_path, PUBLIC), production=True) == []
    assert config_problems(tmp_path / "absent.toml", production=True) == []


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('[[apps]]\nname = "web"\nrepo = "acme/web"\n', "apps[web].workflow: required"),
        (
            '[[apps]]\nname = "web"\nrepo = "acme/web"\nworkflow = "d.yml"\nflavour = 1\n',
            "apps[web]: unknown keys flavour",
        ),
        (
            '[[apps]]\nname = "Web App"\nrepo = "acme/web"\nworkflow = "d.yml"\n',
            "apps[Web App].name: 'Web App': lowercase letters, digits, - and _",
        ),
        (
            '[[apps]]\nname = "web"\nrepo = "web"\nworkflow = "d.yml"\n',
            "apps[web].repo: must be owner/name, got 'web'",
        ),
        (
            '[[apps]]\nname = "web"\nrepo = "a/web"\nworkflow = "d.yml"\nbranch = 5\n',
            "apps[web].branch: must be a string",
        ),
        (
            '[[apps]]\nname = "web"\nrepo = "a/web"\nworkflow = "d.yml"\n' * 2,
            "apps[web]: defined twice",
        ),
        ('[[notify]]\nrepo = "acme/web"\nchannel_id = "#ops"\n', "notify[1]: channel must be"),
        ("[[apps]\n", "Expected ']]' at the end of an array declaration (at line 1"),
    ],
)
def test_each_problem_names_where_it_is(tmp_path: Path, table: str, problem: str) -> None:
    [found] = config_problems(write(tmp_path, table), production=True)
    assert found.startswith(problem), found


# --- orchestrator build ------------------------------------------------------------------------


def test_orchestrator_build_refuses_a_config_production_would_refuse(tmp_path: Path) -> None:
    """The command itself, on a checkout with a local orchestrator.toml: exit non-zero,
    every bad field named, nothing built (the check runs before pip)."""
    checkout = tmp_path / "checkout"
    shutil.copytree(
        ROOT / "orchestrator",
        checkout / "orchestrator",
        ignore=shutil.ignore_patterns("__pycache__", "_build_info.py"),
    )
    shutil.copytree(ROOT / "requirements", checkout / "requirements")
    write(checkout, LOCAL)
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "orchestrator", "build", "--out", str(out), "--no-compile"],
        capture_output=True,
        text=True,
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert f"{CONFIG_FILE} would be refused in production" in run.stderr
    for problem in REFUSED:
        assert problem in run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()


def test_the_build_ships_a_config_production_accepts(tmp_path: Path) -> None:
    assert config_refusals(tmp_path) == []  # no file: nothing to ship, nothing to check
    write(tmp_path, PUBLIC)
    assert config_refusals(tmp_path) == []
    write(tmp_path, LOCAL)
    assert config_refusals(tmp_path) == REFUSED


# --- production startup ------------------------------------------------------------------------


def prod(tmp_path: Path, config: Path) -> dict[str, Any]:
    identity = load_or_create_dev_identity(tmp_path)
    return {
        "ORCHESTRATOR_ENV": "prod",
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "ORCHESTRATOR_CONFIG": str(config),
        "DISCORD_PUBLIC_KEY": identity.discord_public_key,
        "DISCORD_APPLICATION_ID": "100000000000000001",
        "DISCORD_BOT_TOKEN": "bot-token",
        "GITHUB_TOKEN": "gh-token",
        "GITHUB_WEBHOOK_SECRET": "s3cret",
        "DISCORD_GUILD_IDS": "100000000000000003",
    }


def test_production_refuses_to_start_with_a_config_it_would_refuse(tmp_path: Path) -> None:
    config = write(tmp_path, LOCAL)
    with pytest.raises(ConfigError) as refused:
        create_app(load_settings(**prod(tmp_path, config)))
    assert refused.value.problems == [f"{config}: {problem}" for problem in REFUSED]
    write(tmp_path, PUBLIC)
    create_app(load_settings(**prod(tmp_path, config))).state.services.close()


def test_production_startup_names_the_field_and_exits(tmp_path: Path) -> None:
    """As Lambda's cold start and `orchestrator serve` import it: no app, the fields named."""
    config = write(tmp_path, LOCAL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GITHUB_"))}
    run = subprocess.run(
        [sys.executable, "-c", "import orchestrator.main"],
        capture_output=True,
        text=True,
        env={**env, **prod(tmp_path, config)},
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "ConfigError" in run.stderr
    for problem in REFUSED:
        assert problem in run.stderr


# --- /healthz ----------------------------------------------------------------------------------


def test_healthz_names_the_fields_of_an_invalid_file(tmp_path: Path) -> None:
    """In dev the file is re-read while running: an edit that breaks it breaks every app
    command, so /healthz says 503 and where; never the refused value (it is public). Dev's
    rules: plain http only for loopback, private hosts allowed."""
    config = write(tmp_path, PUBLIC)
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, ORCHESTRATOR_CONFIG=config)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok", "store": "ok"}
        write(tmp_path, LOCAL.replace("http://127.0.0.1:8080", "http://10.0.0.5:8080"))
        os.utime(config, (1, 1))  # a new mtime, whatever the clock's resolution
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "store": "ok",
        "config": "invalid",
        "config_errors": ["apps[web].frontend_url"],
    }
    assert "10.0.0.5" not in response.text


def test_an_override_todays_rules_refuse_is_ignored_and_reported(tmp_path: Path) -> None:
    """An override stored under older rules (or in another mode) is not applied: the file's
    value runs, /healthz names it (200: nothing fails), `/config reset` removes it."""
    config = write(tmp_path, PUBLIC)
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, ORCHESTRATOR_CONFIG=config)
    services = Services(settings)
    services.store.put(
        keys.app_override("web"), {"frontend_url": "http://10.0.0.5/", "branch": "release"}
    )
    loaded = loaded_of(services)
    assert loaded.apps["web"].frontend_url == "https://web.example.com/"
    assert loaded.apps["web"].branch == "release", "the valid override still applies"
    assert loaded.overrides == {"web": {"branch": "release"}}
    assert loaded.ignored == [
        "apps[web].frontend_url: only https URLs are allowed (set with /config set; ignored)"
    ]
    with TestClient(create_app(services=services)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["config_errors"] == ["apps[web].frontend_url"]
    assert response.json()["status"] == "degraded"
    assert apps_of(services)["web"].frontend_url == "https://web.example.com/"
    assert file_problems(config, production=True) == []
