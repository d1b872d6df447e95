"""How the command line reports trouble: the right party named, one line, no secrets; and
`orchestrator config` showing what the dev server really runs with."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import orchestrator.cli
import orchestrator.cli.config
from orchestrator.cli import config_problems, main
from orchestrator.cli.deliveries import hook_problem
from orchestrator.config import DEV_DISCORD_API_BASE
from orchestrator.devkeys import DEV_IDENTITY_FILE

TOKEN = "ghp_" + "S3cr3t" * 6


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_the_last_resort_is_one_scrubbed_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(args: argparse.Namespace) -> int:
        raise RuntimeError(f"kaboom\nwhile holding {TOKEN}")

    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setattr(orchestrator.cli.config, "run", explode)
    monkeypatch.setattr(orchestrator.cli, "_log_to_terminal", lambda verbose: None)

    assert main(["config"]) == 1

    err = capsys.readouterr().err
    assert err.splitlines() == [
        "orchestrator: unexpected error: RuntimeError: kaboom while holding [redacted]"
    ]
    assert TOKEN not in err


def test_verbose_shows_the_traceback_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(args: argparse.Namespace) -> int:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(orchestrator.cli.config, "run", explode)
    monkeypatch.setattr(orchestrator.cli, "_log_to_terminal", lambda verbose: None)
    with pytest.raises(RuntimeError, match="kaboom"):
        main(["--verbose", "config"])


def test_production_gaps_are_named_on_one_line() -> None:
    line = config_problems(
        [
            "DISCORD_BOT_TOKEN is not set (required when ORCHESTRATOR_ENV=prod)",
            "GITHUB_WEBHOOK_SECRET is not set (required when ORCHESTRATOR_ENV=prod)",
            "DISCORD_PUBLIC_KEY must be 64 hex characters (the portal's 'Public Key')",
        ]
    )
    assert line == (
        "invalid configuration: not set (required when ORCHESTRATOR_ENV=prod): "
        "DISCORD_BOT_TOKEN, GITHUB_WEBHOOK_SECRET; "
        "DISCORD_PUBLIC_KEY must be 64 hex characters (the portal's 'Public Key')"
    )


def test_a_missing_bot_token_is_ours_not_discords(tmp_path: Path) -> None:
    run = _cli(
        "sync-commands",
        env={"ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"), "DISCORD_BOT_TOKEN": ""},
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert "Discord said no" not in run.stderr
    assert run.stderr.strip() == (
        "orchestrator: sync-commands needs the bot token: set DISCORD_BOT_TOKEN "
        "(developer portal, Bot, Reset Token)"
    )


@pytest.mark.parametrize(
    ("flags", "has_app", "problem"),
    [
        ({"repo": "a/b", "org": "c", "hook_id": 1}, False, "not both"),
        ({"repo": "a/b", "org": None, "hook_id": None}, False, "--hook-id is required"),
        ({"repo": None, "org": None, "hook_id": 7}, False, "needs --repo or --org"),
        ({"repo": None, "org": None, "hook_id": None}, False, "GITHUB_APP_ID"),
        ({"repo": None, "org": None, "hook_id": None}, True, None),
        ({"repo": "a/b", "org": None, "hook_id": 7}, False, None),
    ],
)
def test_deliveries_names_the_flag_that_is_wrong(
    flags: dict[str, object], has_app: bool, problem: str | None
) -> None:
    found = hook_problem(argparse.Namespace(**flags), has_app)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_config_shows_what_the_dev_server_uses(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        "ORCHESTRATOR_ENV": "dev",
        "ORCHESTRATOR_DATA_DIR": str(data),
        "DISCORD_BOT_TOKEN": TOKEN,
    }
    run = _cli("config", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    shown = dict(line.split(None, 1) for line in run.stdout.splitlines())
    identity = json.loads((data / DEV_IDENTITY_FILE).read_text())
    # The public key is not secret: shown, with where it comes from.
    assert shown["DISCORD_PUBLIC_KEY"] == f"{identity['discord_public_key']}  (dev identity)"
    assert shown["GITHUB_WEBHOOK_SECRET"] == "set (dev identity)"
    assert shown["DISCORD_API_BASE"] == f"{DEV_DISCORD_API_BASE}  (the local Discord stand-in)"
    assert shown["DISCORD_APPLICATION_ID"].endswith("(dev stand-in)")
    assert shown["DISCORD_ADMIN_USER_IDS"].endswith("(dev: the simulator's user)")
    # What the environment sets is shown as set, without a note; secrets never.
    assert shown["DISCORD_BOT_TOKEN"] == "set"
    assert TOKEN not in run.stdout + run.stderr
    assert identity["discord_private_key"] not in run.stdout + run.stderr
    assert identity["github_webhook_secret"] not in run.stdout + run.stderr


def test_config_in_tests_says_github_is_a_closed_port(tmp_path: Path) -> None:
    env = {"ORCHESTRATOR_ENV": "test", "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data")}
    run = _cli("config", env=env, cwd=tmp_path)
    shown = dict(line.split(None, 1) for line in run.stdout.splitlines())
    assert shown["GITHUB_API_BASE"].endswith("(test: a closed port, GitHub is never reached)")


def test_config_shows_explicit_values_plainly(tmp_path: Path) -> None:
    key = "ab" * 32
    env = {
        "ORCHESTRATOR_ENV": "dev",
        "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
        "DISCORD_PUBLIC_KEY": key,
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
    }
    run = _cli("config", env=env, cwd=tmp_path)
    shown = dict(line.split(None, 1) for line in run.stdout.splitlines())
    assert shown["DISCORD_PUBLIC_KEY"] == key
    assert shown["DISCORD_API_BASE"] == "http://127.0.0.1:9/api/v10"


@pytest.mark.parametrize("command", sorted(orchestrator.cli.COMMANDS))
def test_help_keeps_the_examples_as_written(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`orchestrator simulate --help` shows its docstring's examples line by line, quoting
    intact, instead of argparse's reflowed paragraph."""
    import importlib

    module = importlib.import_module(orchestrator.cli.COMMANDS[command][0])
    with pytest.raises(SystemExit):
        orchestrator.cli.build_parser().parse_args([command, "--help"])
    shown = capsys.readouterr().out.splitlines()
    for line in (module.__doc__ or "").strip().splitlines():
        assert line.rstrip() in shown, f"{command} --help lost the line {line!r}"
