"""The dev server's companions: which variables point the app at the stand-ins, the demo
app's config, the record the CLI reads, and the checkout the data dir belongs to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.apps import InvalidApp, load_apps
from orchestrator.config import ConfigError, _checkout_from, load_settings
from orchestrator.devtools import dev_server
from orchestrator.devtools.demo import DEMO_APP, demo_config, write_demo_config
from orchestrator.devtools.dev_server import (
    DEV_GITHUB_TOKEN,
    DevServer,
    environment,
    local_url,
    read_record,
    remove_record,
    server_url,
    write_record,
)
from orchestrator.store.sqlite import SQLiteStore

SITE = "http://127.0.0.1:4321/sites/demo/"


def test_the_stand_ins_fill_only_what_is_unset(tmp_path: Path) -> None:
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path)
    env = environment(
        settings,
        frozenset(),
        discord="http://127.0.0.1:8765",
        github="http://127.0.0.1:9999",
        demo_config=tmp_path / "demo.toml",
    )
    assert env == {
        "DISCORD_API_BASE": "http://127.0.0.1:8765/api/v10",
        "DISCORD_BOT_TOKEN": dev_server.DEV_BOT_TOKEN,
        "GITHUB_API_BASE": "http://127.0.0.1:9999",
        "GITHUB_TOKEN": DEV_GITHUB_TOKEN,
        "GITHUB_HOOK_REPO": "local/demo",
        "GITHUB_HOOK_ID": "490000001",
        "ORCHESTRATOR_CONFIG": str(tmp_path / "demo.toml"),
    }
    chosen = load_settings(
        ORCHESTRATOR_DATA_DIR=tmp_path,
        GITHUB_TOKEN="ghp_mine",
        DISCORD_BOT_TOKEN="mine",
    )
    env = environment(
        chosen,
        frozenset({"discord_api_base", "github_hook_org"}),
        discord="http://127.0.0.1:8765",
        github="http://127.0.0.1:9999",
        demo_config=None,
    )
    assert env == {"GITHUB_API_BASE": "http://127.0.0.1:9999"}, "what was set stays set"


def test_the_demo_app_is_valid_in_dev_and_could_never_pass_in_prod(tmp_path: Path) -> None:
    path = write_demo_config(tmp_path, SITE)
    store = SQLiteStore(tmp_path / "s.sqlite3")
    try:
        apps = load_apps(path, store, production=False)
        demo = apps[DEMO_APP]
        assert (demo.repo, demo.workflow, demo.correlation_input) == (
            "local/demo",
            "deploy.yml",
            "correlation_id",
        )
        assert demo.version_url == SITE + "version"
        assert demo.promote_workflow and demo.rollback_workflow and demo.triage_workflow
        with pytest.raises(InvalidApp):
            load_apps(path, store, production=True)  # loopback http: refused in prod
    finally:
        store.close()
    assert "[[notify]]" in demo_config(SITE)


@pytest.mark.parametrize(
    ("env", "flag", "starts"),
    [
        ("dev", None, True),
        ("test", None, False),
        ("test", True, True),
        ("dev", False, False),
        ("prod", True, False),
    ],
)
def test_serve_runs_the_stand_ins_in_dev_only_unless_asked(
    env: str, flag: bool | None, starts: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from orchestrator.cli import serve

    started: list[object] = []

    class Tools:
        def __init__(self, *args: object) -> None:
            self.env: dict[str, str] = {}
            started.append(args)

        def start(self) -> Tools:
            return self

    monkeypatch.setattr(dev_server, "DevTools", Tools)
    settings = load_settings(ORCHESTRATOR_ENV="dev" if env == "prod" else env)
    if env == "prod":
        settings = settings.replace(env=settings.env.PROD)
    args = argparse.Namespace(stand_ins=flag, host="127.0.0.1", port=8123)
    found = serve.start_dev_tools(settings, args)
    assert (found is not None) is starts
    assert bool(started) is starts


def test_the_record_names_a_live_server_and_only_its_owner_removes_it(tmp_path: Path) -> None:
    assert read_record(tmp_path) is None
    assert server_url(tmp_path, None) == "http://127.0.0.1:8000"
    mine = DevServer(url="http://127.0.0.1:8123", pid=os.getpid(), discord="http://127.0.0.1:1")
    write_record(tmp_path, mine)
    assert read_record(tmp_path) == mine
    assert server_url(tmp_path, None) == "http://127.0.0.1:8123"
    assert server_url(tmp_path, "http://elsewhere:1/") == "http://elsewhere:1", "--url wins"
    remove_record(tmp_path, pid=os.getpid() + 1)
    assert read_record(tmp_path) == mine
    remove_record(tmp_path, pid=os.getpid())
    assert read_record(tmp_path) is None


def test_a_record_left_by_a_dead_server_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    write_record(tmp_path, DevServer(url="http://127.0.0.1:8123", pid=int(gone.stdout)))
    assert read_record(tmp_path) is None
    (tmp_path / dev_server.RECORD_FILE).write_text("{not json")
    assert read_record(tmp_path) is None


def test_local_url_reaches_a_wildcard_bind_on_loopback() -> None:
    assert local_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert local_url("127.0.0.1", 8001) == "http://127.0.0.1:8001"
    assert local_url("::1", 8002) == "http://[::1]:8002"


@pytest.mark.parametrize("raw", ["0", "-1", "banana", "61"])
def test_the_step_must_be_a_sane_number_of_seconds(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_GITHUB_STANDIN_STEP", raw)
    with pytest.raises(ConfigError, match="ORCHESTRATOR_GITHUB_STANDIN_STEP"):
        dev_server.standin_step()


def test_the_step_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_GITHUB_STANDIN_STEP", "0.25")
    assert dev_server.standin_step() == 0.25
    monkeypatch.delenv("ORCHESTRATOR_GITHUB_STANDIN_STEP")
    assert dev_server.standin_step() == 1.0


def test_the_checkout_is_found_from_any_of_its_folders(tmp_path: Path) -> None:
    root = tmp_path / "clone"
    deep = root / "docs" / "deeper"
    deep.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "orchestrator"\n')
    (root / "docs" / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    assert _checkout_from(deep) == root
    assert _checkout_from(root) == root
    assert _checkout_from(tmp_path) is None


def test_the_cli_uses_the_checkouts_data_dir_from_a_subfolder(tmp_path: Path) -> None:
    root = tmp_path / "clone"
    deep = root / "docs" / "deeper"
    deep.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "orchestrator"\n')
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATOR_DATA_DIR"}
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "from orchestrator.config import Settings; print(Settings().data_dir)",
        ],
        cwd=deep,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert Path(shown.stdout.strip()) == root / ".orchestrator"


def test_a_command_run_by_hand_in_dev_sees_the_running_servers_stand_ins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_ENV", "dev")
    settings = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path)
    assert dev_server.alongside(settings) is settings, "no server running: as they are"
    write_record(
        tmp_path,
        DevServer(
            url="http://127.0.0.1:1",
            pid=os.getpid(),
            discord="http://127.0.0.1:8765",
            github="http://127.0.0.1:9999",
        ),
    )
    seen = dev_server.alongside(settings)
    assert seen.github_api_base == "http://127.0.0.1:9999"
    assert seen.discord_api_base == "http://127.0.0.1:8765/api/v10"
    assert (seen.github_hook_repo, seen.github_hook_id) == ("local/demo", 490000001)
    monkeypatch.setenv("ORCHESTRATOR_ENV", "test")
    other = load_settings(ORCHESTRATOR_DATA_DIR=tmp_path)
    assert dev_server.alongside(other) is other, "only in dev"
